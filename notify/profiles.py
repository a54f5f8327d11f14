"""Services and selectors for user profiles, opt-outs and signed unsubscribe links."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from notify.models import App, DeadPushToken, OptOut, UserProfile
from notify.models.profiles import PROFILE_CHANNEL_FIELDS
from templates_app.models import MessageType

_UNSUBSCRIBE_SALT = "tidings.unsubscribe"
USER_PREFIX = "user:"


class OptOutNotAllowed(ValueError):
    pass


# --- selectors ------------------------------------------------------------------------------


def profiles_by_external_id(app: App, external_ids: set[str]) -> dict[str, UserProfile]:
    return {
        p.external_id: p for p in UserProfile.objects.filter(app=app, external_id__in=external_ids)
    }


def opted_out(app_ids: set[int], receivers: set[str]) -> set[tuple[int, str, str, str]]:
    """(app, channel, receiver, message type) of every opt-out among these receivers."""
    return set(
        OptOut.objects.filter(app_id__in=app_ids, receiver__any=list(receivers)).values_list(
            "app_id", "channel", "receiver", "message_type"
        )
    )


def dead_push_tokens(app_ids: set[int], tokens: set[str]) -> dict[tuple[int, str], str]:
    """(app, token) -> why, for every dead push token among these receivers."""
    rows = DeadPushToken.objects.filter(app_id__in=app_ids, token__any=list(tokens))
    return {
        (app_id, token): f"{provider} {reason}"
        for app_id, token, provider, reason in rows.values_list(
            "app_id", "token", "provider", "reason"
        )
    }


def profile_opt_outs(profile: UserProfile) -> list[dict[str, str]]:
    return [
        {"channel": channel, "message_type": message_type}
        for channel, message_type in profile.opt_outs.order_by(
            "channel", "message_type"
        ).values_list("channel", "message_type")
    ]


# --- services -------------------------------------------------------------------------------


def _opt_out_receiver(profile: UserProfile, channel: str) -> str:
    # A user without an address on the channel yet is kept by user id, re-pointed later.
    return profile.address_for(channel) or f"{USER_PREFIX}{profile.external_id}"


@transaction.atomic
def profile_upsert(app: App, external_id: str, fields: dict[str, Any]) -> tuple[UserProfile, bool]:
    before = (
        UserProfile.objects.filter(app=app, external_id=external_id)
        .values_list("push_token", flat=True)
        .first()
    )
    profile, created = UserProfile.objects.update_or_create(
        app=app, external_id=external_id, defaults=fields
    )
    if fields.get("push_token") and fields["push_token"] != before:
        # The app registered this token anew: the device is back, send to it again. (The
        # same token posted again with the rest of a profile does not revive it.)
        DeadPushToken.objects.filter(app=app, token=fields["push_token"]).delete()
    if not created:
        # The user's opt-outs follow the new addresses.
        for opt_out in profile.opt_outs.all():
            receiver = _opt_out_receiver(profile, opt_out.channel)
            if receiver != opt_out.receiver:
                OptOut.objects.filter(
                    app=app,
                    channel=opt_out.channel,
                    receiver=receiver,
                    message_type=opt_out.message_type,
                ).exclude(pk=opt_out.pk).delete()
                OptOut.objects.filter(pk=opt_out.pk).update(receiver=receiver)
    return profile, created


def opt_out_add(
    app: App,
    *,
    channel: str,
    receiver: str,
    message_type: str,
    profile: UserProfile | None = None,
    source: str = "api",
) -> OptOut:
    if message_type == MessageType.VERIFICATION:
        raise OptOutNotAllowed("verification codes cannot be opted out of")
    opt_out, _ = OptOut.objects.update_or_create(
        app=app,
        channel=channel,
        receiver=receiver,
        message_type=message_type,
        defaults={"profile": profile, "source": source},
    )
    return opt_out


@transaction.atomic
def profile_preferences_set(profile: UserProfile, opt_outs: list[tuple[str, str]]) -> None:
    """Replace the user's opt-outs with `opt_outs` [(channel, message type)]."""
    if any(message_type == MessageType.VERIFICATION for _, message_type in opt_outs):
        raise OptOutNotAllowed("verification codes cannot be opted out of")
    profile.opt_outs.all().delete()
    for channel, message_type in dict.fromkeys(opt_outs):
        opt_out_add(
            profile.app,
            channel=channel,
            receiver=_opt_out_receiver(profile, channel),
            message_type=message_type,
            profile=profile,
        )


def push_tokens_mark_dead(dead: list[tuple[int, str, str, str]]) -> None:
    """Record (app, token, provider, reason) the provider declared dead, on the profile that
    holds the token if one does; a token already marked keeps its first reason."""
    rows = UserProfile.objects.filter(
        app_id__in={app_id for app_id, *_ in dead}, push_token__in={t for _, t, *_ in dead}
    ).values_list("app_id", "push_token", "pk")
    holders = {(app_id, token): pk for app_id, token, pk in rows}
    DeadPushToken.objects.bulk_create(
        [
            DeadPushToken(
                app_id=app_id,
                token=token[:512],
                profile_id=holders.get((app_id, token)),
                provider=provider,
                reason=reason[:500],
            )
            for app_id, token, provider, reason in dead
        ],
        ignore_conflicts=True,
    )


# --- unsubscribe links ----------------------------------------------------------------------


def unsubscribe_token(app_id: int, channel: str, receiver: str, message_type: str) -> str:
    return signing.dumps(
        {"a": app_id, "c": channel, "r": receiver, "t": message_type},
        salt=_UNSUBSCRIBE_SALT,
        compress=True,
    )


def unsubscribe_url(app_id: int, channel: str, receiver: str, message_type: str) -> str:
    token = unsubscribe_token(app_id, channel, receiver, message_type)
    base = getattr(settings, "TIDINGS_PUBLIC_URL", "http://127.0.0.1:8000")
    return base.rstrip("/") + reverse("unsubscribe", args=[token])


def unsubscribe_read(token: str) -> dict[str, Any]:
    """Raises signing.BadSignature for a forged or damaged token; links do not expire."""
    data = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    if not isinstance(data, dict) or not {"a", "c", "r", "t"} <= data.keys():
        raise signing.BadSignature("incomplete token")
    return data


def unsubscribe(token: str) -> OptOut:
    data = unsubscribe_read(token)
    app = App.objects.filter(pk=data["a"]).first()
    if app is None:
        # The App was deleted since the link was sent: nothing to unsubscribe from.
        raise signing.BadSignature("unknown app")
    profile = _profile_with_address(app, data["c"], data["r"])
    return opt_out_add(
        app,
        channel=data["c"],
        receiver=data["r"],
        message_type=data["t"],
        profile=profile,
        source="link",
    )


def _profile_with_address(app: App, channel: str, receiver: str) -> UserProfile | None:
    field = PROFILE_CHANNEL_FIELDS.get(channel)
    if not field:
        return None
    return UserProfile.objects.filter(app=app, **{field: receiver}).order_by("id").first()
