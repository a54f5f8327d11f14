"""A logging filter that masks credentials in every record before a handler formats it.

Installed on the console handler in config/settings/base.py LOGGING. It rewrites the final
message (arguments merged) and any exception text, so a secret passed as an argument, in an
exception message or in a traceback is masked alike. Three layers:
- shapes: Authorization / Api-Key header values, `token=`/`key=`/`secret=`/`signature=`/
  `access_token=`... query parameters, user:password@ in URLs, Telegram bot tokens, Slack
  hook paths, PEM private keys, JWTs, Fernet tokens, AWS access key ids;
- JSON/dict-style pairs whose key names a credential (`"secret": "…"`, `'X-Api-Key': '…'`);
- exact values registered at run time (`secrets_register`): channel-account secrets and
  header values, which have no recognisable shape.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable

MASK = "[redacted]"
# Shorter values are too likely to match ordinary words.
MIN_REGISTERED_LENGTH = 6
MAX_REGISTERED = 10_000

_CREDENTIAL_WORDS = (
    r"(?:access[_-]?token|refresh[_-]?token|id[_-]?token|token|api[_-]?key|apikey|access[_-]?key"
    r"|secret[_-]?key|private[_-]?key|client[_-]?secret|secret|password|passwd|pwd|signature"
    r"|sig|key|authorization|credentials?|corpsecret|appsecret|master[_-]?secret"
    r"|bot[_-]?token)"
)

_PATTERNS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # PEM private keys (APNs, FCM service accounts).
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        MASK,
    ),
    # Authorization-style header values: "Authorization: Bearer x", "Api-Key x", "Basic x".
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|x-api-key|api-key|x-auth-token)"
            r"(['\"]?\s*[:=]\s*['\"]?)(?:(bearer|basic|api-key|token|key)\s+)?[^\s'\",;}]+"
        ),
        r"\1\2\3 " + MASK,
    ),
    (re.compile(r"(?i)\b(bearer|basic|api-key)\s+[A-Za-z0-9._~+/=:-]{8,}"), r"\1 " + MASK),
    # Query / form parameters naming a credential: ?token=…&key=…
    (
        re.compile(rf"(?i)([?&;]|\b){_CREDENTIAL_WORDS}=[^&\s'\"#<>]+"),
        lambda m: m.group(0).split("=", 1)[0] + "=" + MASK,
    ),
    # user:password@host in URLs (SMTP, Redis, Apprise, basic-auth webhooks).
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@'\"]+):([^@\s/'\"]+)@"),
        r"\1\2:" + MASK + "@",
    ),
    # Telegram bot tokens in API paths: /bot123456:AA…/sendMessage.
    (re.compile(r"\bbot\d{5,}:[A-Za-z0-9_-]{20,}"), "bot" + MASK),
    (re.compile(r"\b\d{6,}:AA[A-Za-z0-9_-]{20,}"), MASK),
    # Slack incoming-webhook paths: hooks.slack.com/services/T…/B…/secret.
    (re.compile(r"(hooks\.slack\.com/services/)[^\s'\"]+"), r"\1" + MASK),
    # JWTs, Fernet tokens, AWS access key ids.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{40,}"), MASK),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    # "secret": "…", 'X-Api-Key': '…', password=… in reprs of dicts and JSON bodies.
    (
        re.compile(
            rf"(?i)(['\"]?[\w-]*{_CREDENTIAL_WORDS}[\w-]*['\"]?\s*[:=]\s*)(['\"])(?:(?!\2).)+\2"
        ),
        lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}",
    ),
]

_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()


def secrets_register(values: Iterable[object]) -> None:
    """Remember exact secret values (credentials, custom header values) to mask in logs."""
    global _registered_pattern
    fresh = {
        str(v) for v in values if isinstance(v, str | int) and len(str(v)) >= MIN_REGISTERED_LENGTH
    }
    with _lock:
        fresh -= _registered
        if not fresh or len(_registered) >= MAX_REGISTERED:
            return
        _registered.update(fresh)
        # Longest first, so a value containing another is masked whole.
        ordered = sorted(_registered, key=len, reverse=True)
        _registered_pattern = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: str) -> str:
    """The text with every credential this module recognises masked."""
    if not text:
        return text
    pattern = _registered_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for regex, replacement in _PATTERNS:
        text = regex.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem, not ours
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            # The formatter prints exc_text when it is set; drop the live exception so
            # no handler formats the unredacted traceback again.
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
