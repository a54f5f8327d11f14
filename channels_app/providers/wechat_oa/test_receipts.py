"""TEMPLATESENDJOBFINISH pushed to the account's server URL: signature, safe-mode AES, the GET
echostr check, and the message moving to DELIVERED / UNDELIVERED by MsgID."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from channels_app.models import ChannelAccount
from channels_app.providers.fakes_wechat import WeChatServerPush, new_encoding_aes_key
from channels_app.providers.wechat_common import WeChatConfig
from channels_app.providers.wechat_server import CryptoError, decrypt, encrypt
from channels_app.secrets import MASK, config_masked
from notify.models import SendRequest
from notify.services import app_create
from templates_app.models import MessageTemplate
from tracking.models import Message

TOKEN = "wxReceiptToken1"


def sent_message(account: ChannelAccount, receiver: str, provider_id: str) -> Message:
    template, _ = MessageTemplate.objects.get_or_create(
        app=account.app, code=f"t-{account.provider}",
        defaults={"name": "t", "channel": account.channel, "receiver_type": "open_id",
                  "content": {"template_id": "T", "data": {"a": "b"}}},
    )  # fmt: skip
    request = SendRequest.objects.create(app=account.app, template=template, priority="normal")
    now = timezone.now()
    return Message.objects.create(
        app=account.app, request=request, template=template, channel=account.channel,
        account=account, receiver=receiver, content={}, priority="normal", state="SENT",
        provider_message_id=provider_id, created_at=now, updated_at=now, sent_at=now,
    )  # fmt: skip


def wechat_account(provider: str = "wechat_oa", **config) -> ChannelAccount:
    app, _ = app_create(f"acme-{provider}")
    return ChannelAccount.objects.create(
        app=app, name=provider, channel=provider, provider=provider,
        config={"appid": "wx-receipts", "secret": "s", "token": TOKEN, **config},
    )  # fmt: skip


def post(account: ChannelAccount, wechat: WeChatServerPush, fields: dict, *, safe: bool = False):
    query, body, kind = wechat.push(fields, safe=safe)
    return Client().post(f"/r/{account.provider}/{account.pk}/x?{query}", body, content_type=kind)


@pytest.fixture
def aes_key() -> str:
    return new_encoding_aes_key()


def test_aes_matches_the_independent_implementation(aes_key):
    wechat = WeChatServerPush("wx-a", TOKEN, aes_key)
    message = "<xml><MsgID>1</MsgID></xml>" * 3  # not a multiple of 32 bytes
    assert decrypt(aes_key, "wx-a", wechat._encrypt(message.encode())) == message.encode()
    assert decrypt(aes_key, "wx-a", encrypt(aes_key, "wx-a", b"x" * 44)) == b"x" * 44
    with pytest.raises(CryptoError, match="appid"):
        decrypt(aes_key, "wx-other", wechat._encrypt(b"hi"))
    with pytest.raises(CryptoError):
        decrypt(new_encoding_aes_key(), "wx-a", wechat._encrypt(b"hi"))


@pytest.mark.parametrize("safe", [False, True])
def test_template_send_job_finish_moves_the_message(db, aes_key, safe):
    account = wechat_account(encoding_aes_key=aes_key)
    delivered = sent_message(account, "oAnn", "200163836")
    blocked = sent_message(account, "oBob", "200163840")
    failed = sent_message(account, "oCid", "200163841")
    wechat = WeChatServerPush("wx-receipts", TOKEN, aes_key)

    for openid, msgid, status in [
        ("oAnn", 200163836, "success"),
        ("oBob", 200163840, "failed:user block"),
        ("oCid", 200163841, "failed: system failed"),
    ]:
        response = post(account, wechat, wechat.template_finished(openid, msgid, status), safe=safe)
        assert response.status_code == 200
        assert response.content == b"success"

    for message in (delivered, blocked, failed):
        message.refresh_from_db()
    assert delivered.state == "DELIVERED"
    assert (blocked.state, failed.state) == ("UNDELIVERED", "UNDELIVERED")
    events = dict(blocked.events.values_list("state", "detail"))
    assert events["UNDELIVERED"] == "wechat: failed:user block"
    assert failed.events.get(state="UNDELIVERED").detail == "wechat: failed: system failed"


def test_wrong_signature_token_or_stale_timestamp_are_refused(db, aes_key):
    account = wechat_account(encoding_aes_key=aes_key)
    message = sent_message(account, "oAnn", "7")
    event = WeChatServerPush("wx-receipts", TOKEN).template_finished("oAnn", 7, "success")

    assert post(account, WeChatServerPush("wx-receipts", "wrongToken"), event).status_code == 403
    forged = WeChatServerPush("wx-receipts", "wrongToken", aes_key)
    assert post(account, forged, event, safe=True).status_code == 403
    # Safe mode without the plain signature: msg_signature alone must match.
    query, body, kind = forged.push(event, safe=True)
    query = "&".join(p for p in query.split("&") if not p.startswith("signature="))
    response = Client().post(f"/r/wechat_oa/{account.pk}/x?{query}", body, content_type=kind)
    assert response.status_code == 403
    assert "msg_signature" in response.json()["message"]
    # Signed right but sealed with another key: not ours.
    other_key = WeChatServerPush("wx-receipts", TOKEN, new_encoding_aes_key())
    assert post(account, other_key, event, safe=True).status_code == 403
    query, body, kind = WeChatServerPush("wx-receipts", TOKEN).push(event)
    stale = query.replace("timestamp=", "timestamp=1")  # a timestamp far in the future
    response = Client().post(f"/r/wechat_oa/{account.pk}/x?{stale}", body, content_type=kind)
    assert response.status_code == 403
    unsigned = Client().post(f"/r/wechat_oa/{account.pk}/x", body, content_type=kind)
    assert unsigned.status_code == 403
    message.refresh_from_db()
    assert message.state == "SENT"


def test_an_account_without_a_server_token_accepts_nothing(db):
    account = wechat_account(token="")
    event = WeChatServerPush("wx-receipts", "").template_finished("oAnn", 7, "success")
    response = post(account, WeChatServerPush("wx-receipts", ""), event)
    assert response.status_code == 403
    assert "config.token" in response.json()["message"]


def test_bad_bodies_are_a_clear_400(db):
    account = wechat_account()
    wechat = WeChatServerPush("wx-receipts", TOKEN)
    query, _, _ = wechat.push({})
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><MsgID>&a;</MsgID></xml>'
    for body in (bomb, b"<xml><MsgID>", b"[1, 2]", b"<xml>just text</xml>"):
        response = Client().post(
            f"/r/wechat_oa/{account.pk}/x?{query}", body, content_type="text/xml"
        )
        assert response.status_code == 400
        assert response.json()["message"].startswith("body:")


def test_an_absurd_create_time_does_not_matter(db):
    account = wechat_account()
    message = sent_message(account, "oAnn", "7")
    wechat = WeChatServerPush("wx-receipts", TOKEN)
    event = {**wechat.template_finished("oAnn", 7, "success"), "CreateTime": "9" * 30}
    assert post(account, wechat, event).status_code == 200
    message.refresh_from_db()
    assert message.state == "DELIVERED"


def test_other_events_and_user_messages_are_acknowledged_and_ignored(db):
    account = wechat_account()
    message = sent_message(account, "oAnn", "7")
    wechat = WeChatServerPush("wx-receipts", TOKEN)
    for fields in (
        {"MsgType": "event", "Event": "subscribe", "FromUserName": "oAnn", "MsgID": 7},
        {"MsgType": "text", "Content": "hello", "MsgId": 7},
    ):
        response = post(account, wechat, fields)
        assert (response.status_code, response.content) == (200, b"success")
    message.refresh_from_db()
    assert message.state == "SENT"


@pytest.mark.parametrize("safe", [False, True])
def test_url_verification_answers_the_echostr(db, aes_key, safe):
    account = wechat_account(encoding_aes_key=aes_key)
    wechat = WeChatServerPush("wx-receipts", TOKEN, aes_key)
    response = Client().get(
        f"/r/wechat_oa/{account.pk}/x?{wechat.verification('echo-123', safe=safe)}"
    )
    assert response.status_code == 200
    assert response.content == b"echo-123"
    forged = WeChatServerPush("wx-receipts", "wrongToken", aes_key)
    response = Client().get(
        f"/r/wechat_oa/{account.pk}/x?{forged.verification('echo-123', safe=safe)}"
    )
    assert response.status_code == 403
    assert b"echo-123" not in response.content
    # A GET is only for the providers that verify their URL that way.
    sms = ChannelAccount.objects.create(
        app=account.app, name="t", channel="sms", provider="tencent_sms", config={}
    )
    assert Client().get(f"/r/tencent_sms/{sms.pk}/x").status_code == 405


def test_server_credentials_are_validated_and_secret(db, aes_key):
    base = {"appid": "wx", "secret": "s"}
    config = WeChatConfig(data={**base, "token": "t", "encoding_aes_key": "short"})
    assert not config.is_valid()
    assert set(config.errors) == {"token", "encoding_aes_key"}
    config = WeChatConfig(data=base)
    assert config.is_valid()
    assert config.validated_data["token"] == ""
    for provider in ("wechat_oa", "wechat_mp"):
        account = wechat_account(provider, encoding_aes_key=aes_key)
        shown = config_masked(provider, account.config)
        assert shown["token"] == shown["encoding_aes_key"] == MASK
        stored = ChannelAccount.objects.filter(pk=account.pk).values_list("config", flat=True)
        with connection.cursor() as cursor:  # encrypted at rest, like every config
            cursor.execute(f"SELECT config::text FROM {ChannelAccount._meta.db_table} "
                           "WHERE id = %s", [account.pk])  # fmt: skip
            raw = cursor.fetchone()[0]
        assert TOKEN not in raw and aes_key not in raw
        assert stored[0]["token"] == TOKEN
