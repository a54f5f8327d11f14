"""Preview: a template rendered with sample variables, and every problem a send would hit
(missing variables, malformed placeholders, parts the channel or a routed provider needs)."""

from __future__ import annotations

from typing import Any

from templates_app.checks import content_problems, provider_problems, routed_providers
from templates_app.locales import locale_choose, locale_content
from templates_app.models import MessageTemplate
from templates_app.rendering import missing_variables, placeholders, render


def template_preview(
    template: MessageTemplate,
    variables: dict[str, Any],
    content: Any = None,
    locale: str | None = None,
) -> dict[str, Any]:
    """`content`: preview this instead of the saved one (an edit not saved yet); `locale`:
    the variant a receiver with this locale gets (templates_app.locales)."""
    variant = locale_choose(template.locales, locale) if content is None else ""
    content = locale_content(template, variant) if content is None else content
    problems: list[dict[str, str]] = []
    for field, found in content_problems(template.channel, content).items():
        problems.extend({"field": field, "problem": p} for p in found)
    rendered: dict[str, Any] = {}
    providers = routed_providers(template.app, template.channel, template.channel_account)
    if isinstance(content, dict) and content:
        required = placeholders(content)
        missing = missing_variables(required, variables)
        if missing:
            problems.append(
                {"field": "variables", "problem": f"missing variables: {', '.join(missing)}"}
            )
        # A missing variable shows as its placeholder, so the preview points at it.
        shown = {**{name: f"{{${name}}}" for name in missing}, **variables}
        rendered[template.channel] = render(content, shown)
        for field, found in provider_problems(providers, template.channel, content).items():
            problems.extend({"field": field, "problem": p} for p in found)
    if not providers:
        problems.append(
            {
                "field": "channel_account",
                "problem": f"no enabled {template.channel} account: nothing can send it yet",
            }
        )
    return {
        "template": template.code,
        "channel": template.channel,
        "locale": variant,
        "providers": providers,
        "variables": sorted(placeholders(content)) if isinstance(content, dict) else [],
        "rendered": rendered,
        "problems": problems,
    }
