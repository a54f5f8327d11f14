"""Receipts pulled on beat from providers that keep them for polling: every provider whose
folder's `receipts` module has `pull(account, now, limit)` (TIDINGS_RECEIPT_PULL_PROVIDERS
narrows the list)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.base import DeliveryError
from channels_app.providers.registry import PROVIDERS, provider_module
from channels_app.secrets import account_secret_values
from config.logredact import secrets_register

logger = logging.getLogger(__name__)

Puller = Callable[[ChannelAccount, datetime, int], dict[str, int]]


def pullers() -> dict[str, Puller]:
    """Provider -> its pull function, for the providers polled on beat: those listed in
    TIDINGS_RECEIPT_PULL_PROVIDERS, or when it is empty every provider with a `pull` but
    the opt-in ones (`PULL_OPT_IN`, e.g. Yunpian, whose pull drains a shared queue)."""
    listed = [p for p in settings.TIDINGS_RECEIPT_PULL_PROVIDERS if p in PROVIDERS]
    modules = {name: provider_module(name, "receipts") for name in listed or PROVIDERS}
    return {
        name: getattr(module, "pull")  # noqa: B009 - the module is typed as optional
        for name, module in modules.items()
        if getattr(module, "pull", None) is not None
        and (listed or not getattr(module, "PULL_OPT_IN", False))
    }


def receipts_pull(now: datetime | None = None) -> dict[str, int]:
    """Pull receipts for every enabled account of a polling provider; one account's failure
    does not stop the others."""
    now = now or timezone.now()
    totals = {"accounts": 0, "received": 0, "matched": 0, "moved": 0, "errors": 0}
    by_provider = pullers()
    accounts = ChannelAccount.objects.filter(enabled=True, provider__in=list(by_provider))
    for account in accounts.order_by("id"):
        secrets_register(account_secret_values(account))  # masked in any log line below
        try:
            result = by_provider[account.provider](
                account, now, settings.TIDINGS_RECEIPT_PULL_LIMIT
            )
        except DeliveryError as error:
            totals["errors"] += 1
            logger.warning("receipt pull for account %s failed: %s", account.pk, error)
            continue
        totals["accounts"] += 1
        for key, value in result.items():
            totals[key] += value
    return totals
