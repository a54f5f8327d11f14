"""Provider name -> adapter class. Adding a provider is a folder plus one line here."""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from channels_app.providers.base import ProviderAdapter

PROVIDERS: dict[str, str] = {
    "sandbox": "channels_app.providers.sandbox.adapter.SandboxAdapter",
    "smtp": "channels_app.providers.smtp.adapter.SmtpAdapter",
    "webhook": "channels_app.providers.webhook.adapter.WebhookAdapter",
}


class UnknownProvider(LookupError):
    pass


@cache
def get_adapter_class(provider: str) -> type[ProviderAdapter]:
    try:
        path = PROVIDERS[provider]
    except KeyError:
        raise UnknownProvider(provider) from None
    return import_string(path)


def provider_choices() -> list[tuple[str, str]]:
    return [(name, get_adapter_class(name).label) for name in PROVIDERS]


def providers_for_channel(channel: str) -> list[str]:
    return [name for name in PROVIDERS if channel in get_adapter_class(name).channels]
