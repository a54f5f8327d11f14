"""Receipts providers push to /r/<provider>/<account id>/<token>: each provider's parser is
its folder's `receipts.parse_push` (channels_app/providers/receipts.py says the contract);
providers without one get the generic shape.

Providers that sign their callbacks (`PUSH_SIGNED`, e.g. Twilio) are verified with the
account's credentials; the others are only accepted on the account's secret receipt URL."""

from __future__ import annotations

from channels_app.providers.receipts import Parser, ReceiptRejected, parse_generic
from channels_app.providers.registry import PROVIDERS, UnknownProvider, provider_module

__all__ = ["ReceiptRejected", "parser_for", "push_get_verified", "push_signed"]


def parser_for(provider: str) -> Parser:
    module = provider_module(provider, "receipts") if provider in PROVIDERS else None
    return getattr(module, "parse_push", None) or parse_generic


def push_signed(provider: str) -> bool:
    """True when the provider signs its receipt callbacks: its URL needs no token."""
    try:
        module = provider_module(provider, "receipts")
    except UnknownProvider:
        return False
    return bool(getattr(module, "PUSH_SIGNED", False))


def push_get_verified(provider: str) -> bool:
    """True when the provider checks its receipt URL with a GET (WeChat's echostr): only
    those providers' URLs answer GET."""
    try:
        module = provider_module(provider, "receipts")
    except UnknownProvider:
        return False
    return bool(getattr(module, "GET_VERIFIED", False))
