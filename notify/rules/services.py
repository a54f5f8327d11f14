"""Writes for consumer rules: rule settings and template overrides."""

from __future__ import annotations

import logging
from typing import Any

from notify.models import App, RuleSettings, TemplateRule
from notify.rules.config import rule_config_clear
from templates_app.models import MessageTemplate

logger = logging.getLogger(__name__)


def rule_settings_get(app: App) -> RuleSettings:
    settings_row, _ = RuleSettings.objects.get_or_create(app=app)
    return settings_row


def rule_settings_update(app: App, fields: dict[str, Any]) -> RuleSettings:
    row = rule_settings_get(app)
    for name, value in fields.items():
        setattr(row, name, value)
    row.full_clean(exclude=["app"])
    row.save()
    rule_config_clear(app.pk)  # this process at once; workers within the cache's seconds
    return row


def template_rule_update(template: MessageTemplate, fields: dict[str, Any]) -> TemplateRule:
    rule, _ = TemplateRule.objects.update_or_create(template=template, defaults=fields)
    rule_config_clear(template.app_id)
    return rule
