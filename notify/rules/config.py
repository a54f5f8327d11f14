"""What the rules read from the database, cached per process for a few seconds so an edit in
the admin or the API reaches every worker without a restart, and a batch costs no queries
for configuration."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import time as dtime

from django.conf import settings

from channels_app.models import ChannelAccount
from channels_app.providers.registry import get_adapter_class
from notify.models import FlowLimit, RuleSettings, SensitiveWord, TemplateRule
from templates_app.models import MessageTemplate
from tracking.models import Message

_DEFAULTS = RuleSettings()


@dataclass(frozen=True)
class TemplateConfig:
    code: str
    message_type: str
    discarded: bool
    night_mode: str
    sensitive_mode: str
    dedup_window_seconds: int
    dedup_max: int


@dataclass(frozen=True)
class FlowConfig:
    rate_per_second: float
    burst: int
    count_by: str
    messages_per_request: int = 1


@dataclass
class AppRuleConfig:
    app_id: int
    discarded_channels: frozenset[str] = frozenset()
    whitelist_enabled: bool = False
    whitelist: frozenset[str] = frozenset()
    dedup_window_seconds: int = _DEFAULTS.dedup_window_seconds
    dedup_max: int = _DEFAULTS.dedup_max
    frequency_cap: int = _DEFAULTS.frequency_cap
    frequency_caps: dict[str, int] = field(default_factory=dict)
    verification_frequency_cap: int | None = None
    time_zone: str = _DEFAULTS.time_zone
    quiet_start: dtime = _DEFAULTS.quiet_start
    quiet_end: dtime = _DEFAULTS.quiet_end
    night_release_spread_seconds: int = _DEFAULTS.night_release_spread_seconds
    templates: dict[int, TemplateConfig] = field(default_factory=dict)
    sensitive_pattern: re.Pattern[str] | None = None
    flow: dict[int, FlowConfig] = field(default_factory=dict)
    loaded_at: float = 0.0

    def template(self, template_id: int) -> TemplateConfig | None:
        return self.templates.get(template_id)

    def cap_for(self, channel: str, message_type: str) -> int:
        """0 means no cap."""
        if message_type == "verification":
            return self.verification_frequency_cap or 0
        return int(self.frequency_caps.get(channel, self.frequency_cap))


_lock = threading.Lock()
_cache: dict[int, AppRuleConfig] = {}


def rule_config(app_id: int, *, template_id: int | None = None) -> AppRuleConfig:
    """The App's rule configuration, at most TIDINGS_RULES_CACHE_SECONDS old; reloaded at
    once when it does not know `template_id` (a template created since the last load)."""
    config = _cache.get(app_id)
    now = time.monotonic()
    stale = config is None or now - config.loaded_at > settings.TIDINGS_RULES_CACHE_SECONDS
    if (
        config is not None
        and not stale
        and template_id is not None
        and template_id not in config.templates
    ):
        stale = True
    if stale or config is None:
        config = _load(app_id)
        with _lock:
            _cache[app_id] = config
    return config


def rule_config_clear(app_id: int | None = None) -> None:
    """Forget the cached configuration (this process only; others expire it by age)."""
    with _lock:
        if app_id is None:
            _cache.clear()
        else:
            _cache.pop(app_id, None)


def _load(app_id: int) -> AppRuleConfig:
    row = RuleSettings.objects.filter(app_id=app_id).first() or RuleSettings(app_id=app_id)
    overrides = {r.template_id: r for r in TemplateRule.objects.filter(template__app_id=app_id)}
    templates: dict[int, TemplateConfig] = {}
    for pk, code, message_type in MessageTemplate.objects.filter(app_id=app_id).values_list(
        "pk", "code", "message_type"
    ):
        rule = overrides.get(pk)
        templates[pk] = TemplateConfig(
            code=code,
            message_type=message_type,
            discarded=bool(rule and rule.discarded),
            night_mode=(rule and rule.night_mode) or row.night_mode,
            sensitive_mode=(rule and rule.sensitive_mode) or row.sensitive_mode,
            dedup_window_seconds=(
                rule.dedup_window_seconds
                if rule and rule.dedup_window_seconds is not None
                else row.dedup_window_seconds
            ),
            dedup_max=rule.dedup_max if rule and rule.dedup_max is not None else row.dedup_max,
        )
    words = sorted(
        {
            w.strip()
            for w in SensitiveWord.objects.filter(app_id=app_id).values_list("word", flat=True)
        }
        - {""},
        key=len,
        reverse=True,  # longest first, so "badword" is masked whole, not as "bad" + "word"
    )
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
    flow = {
        limit.account_id: FlowConfig(
            limit.rate_per_second, max(1, limit.burst), limit.count_by, _batch_size(limit.account)
        )
        for limit in FlowLimit.objects.filter(account__app_id=app_id, enabled=True).select_related(
            "account"
        )
        if limit.rate_per_second > 0
    }
    return AppRuleConfig(
        app_id=app_id,
        discarded_channels=frozenset(row.discarded_channels or []),
        whitelist_enabled=row.whitelist_enabled,
        whitelist=frozenset(str(r).strip().lower() for r in (row.whitelist or [])),
        dedup_window_seconds=row.dedup_window_seconds,
        dedup_max=row.dedup_max,
        frequency_cap=row.frequency_cap,
        frequency_caps={str(k): int(v) for k, v in (row.frequency_caps or {}).items()},
        verification_frequency_cap=row.verification_frequency_cap,
        time_zone=row.time_zone or "UTC",
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        night_release_spread_seconds=row.night_release_spread_seconds,
        templates=templates,
        sensitive_pattern=pattern,
        flow=flow,
        loaded_at=time.monotonic(),
    )


def _batch_size(account: ChannelAccount) -> int:
    try:
        adapter = get_adapter_class(account.provider)
        return max(1, adapter(account.config, base_url=account.base_url).batch_size)
    except Exception:  # noqa: BLE001 - an unknown provider fails at delivery, not here
        return 1


def configs_for(messages: Iterable[Message]) -> dict[int, AppRuleConfig]:
    """One configuration per App in the batch (a batch is nearly always one App)."""
    out: dict[int, AppRuleConfig] = {}
    for message in messages:
        config = out.get(message.app_id)
        if config is None or message.template_id not in config.templates:
            out[message.app_id] = rule_config(message.app_id, template_id=message.template_id)
    return out
