"""A device token FCM/APNs declared dead is never offered to a provider again, until the
app registers it on a profile anew."""

from __future__ import annotations

from channels_app.models import ChannelAccount
from notify.delivery import batch_deliver
from notify.models import DeadPushToken
from notify.profiles import push_tokens_mark_dead
from templates_app.models import MessageTemplate
from tests.rules.conftest import details, states, trace

TOKEN = "dGVzdC1kZXZpY2UtdG9rZW4tMDAwMw:APA91bHun4MxP5egoKMwt2KZFBaFUH"


def test_sends_to_a_dead_token_are_skipped_until_it_is_registered_again(api, send, tenant):
    account = ChannelAccount.objects.create(
        app=tenant, name="fcm", channel="push", provider="fcm", config={}
    )
    MessageTemplate.objects.create(
        app=tenant, name="Push", code="push", channel="push", receiver_type="any",
        content={"title": "Hi", "body": "there"}, channel_account=account,
    )  # fmt: skip
    assert api.post("/api/v1/profiles", {"external_id": "u1", "push_token": TOKEN}, format="json").status_code in (200, 201)  # fmt: skip
    push_tokens_mark_dead([(tenant.pk, TOKEN, "fcm", "FCM UNREGISTERED: gone")])
    push_tokens_mark_dead([(tenant.pk, TOKEN, "apns", "a later reason")])  # the first one stays

    [by_user, by_token] = send("push", ["user:u1", TOKEN])
    batch_deliver([by_user.pk, by_token.pk])

    assert states([by_user, by_token]) == ["FAILED", "FAILED"]
    assert trace(by_user) == ["ACCEPTED", "QUEUED", "FAILED"]
    assert details(by_user, "FAILED") == [
        "not sent: the device token is dead (fcm FCM UNREGISTERED: gone)"
    ]
    assert DeadPushToken.objects.get(token=TOKEN).profile.external_id == "u1"  # on the profile
    # posting the profile again as it was does not revive the token
    api.post("/api/v1/profiles", {"external_id": "u1", "push_token": TOKEN}, format="json")
    assert DeadPushToken.objects.filter(token=TOKEN).exists()
    # the app registering it anew (the device is back) does
    api.post("/api/v1/profiles", {"external_id": "u2", "push_token": TOKEN}, format="json")
    assert not DeadPushToken.objects.filter(token=TOKEN).exists()
