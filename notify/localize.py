"""The send pipeline's locale step: which of a template's `locales` variants each receiver
gets, and recording it on their messages. Templates without variants skip all of it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from notify.models import App, UserProfile
from notify.models.profiles import PROFILE_CHANNEL_FIELDS
from notify.profiles import USER_PREFIX, profiles_by_external_id
from templates_app.locales import locale_choose
from tracking.models import Message

if TYPE_CHECKING:
    from notify.pipeline import Item, SendContext


def choose_locales(ctx: SendContext) -> None:
    """Set each item's `locale` to the variant it gets: its own explicit locale, else the
    call's, else its profile's, through the fallback chain (en-GB -> en -> default "")."""
    locales = ctx.loaded_template.locales
    if not locales:
        return  # an explicit locale names no variant: every item gets `content`
    unknown = [item for item in ctx.items if not (item.locale or ctx.locale)]
    profile_locales = (
        _profile_locales(ctx.app, ctx.loaded_template.channel, unknown) if unknown else {}
    )
    for item in ctx.items:
        wanted = item.locale or ctx.locale or profile_locales.get(item.receiver, "")
        item.locale = locale_choose(locales, wanted)


def _profile_locales(app: App, channel: str, items: list[Item]) -> dict[str, str]:
    """{receiver: the profile's locale} for `user:<id>` receivers and for addresses held in a
    profile's field for the channel (an email address, a phone number…)."""
    user_ids = {i.receiver[len(USER_PREFIX) :] for i in items if i.receiver.startswith(USER_PREFIX)}
    found: dict[str, str] = {}
    if user_ids:
        for user_id, profile in profiles_by_external_id(app, user_ids).items():
            if profile.locale:
                found[f"{USER_PREFIX}{user_id}"] = profile.locale
    field = PROFILE_CHANNEL_FIELDS.get(channel)
    addresses = {i.receiver for i in items if not i.receiver.startswith(USER_PREFIX)}
    if field and addresses:
        rows = (
            UserProfile.objects.filter(app=app, **{f"{field}__in": addresses})
            .exclude(locale="")
            .order_by("-id")
            .values_list(field, "locale")
        )
        # Several profiles with one address: the oldest one's locale (last written wins).
        found.update(dict(rows))
    return found


def messages_locale_record(message_ids: list[int], items: list[Item], created_at: datetime) -> None:
    """Write the chosen variant on the messages just inserted (rows carry "" otherwise);
    `created_at` lets PostgreSQL look in one partition only."""
    by_locale: dict[str, list[int]] = defaultdict(list)
    for pk, item in zip(message_ids, items, strict=True):
        if item.locale:
            by_locale[item.locale].append(pk)
    for locale, ids in by_locale.items():
        Message.objects.filter(id__in=ids, created_at=created_at).update(locale=locale)
