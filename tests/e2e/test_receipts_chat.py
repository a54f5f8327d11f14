"""Native receipts of the chat channels, end to end: API -> real Celery worker -> the
provider's local fake -> SENT with the provider's message id -> the provider's receipt
(WeChat's signed, encrypted push to the server URL; Feishu's read state, pulled; WeCom's
skipped receivers in the send answer) -> the
message's final state, its trace and /api/v1/stats agree.

One worker serves the module (test_channels' fixture)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client

from channels_app.models import ChannelAccount
from channels_app.providers.feishu_app.fake import FakeFeishuApp
from channels_app.providers.wechat_oa.fake import WeChatServerPush, new_encoding_aes_key
from templates_app.models import MessageTemplate
from tests.e2e.conftest import wait_until
from tests.e2e.test_channels import _final, _send, clean_redis, module_worker  # noqa: F401
from tests.fakes.http import FakeHTTPServer
from tests.fakes.wechat_oa import FakeWeChat
from tests.fakes.wecom_app import FakeWeCom
from tracking.models import Message, MessageEvent
from tracking.tasks import pull_receipts

pytestmark = pytest.mark.e2e

TOKEN = "e2eServerToken"


@contextmanager
def channel(
    tenant, provider: str, fake, config: dict, content: dict, receiver_type: str = "open_id"
) -> Iterator[str]:
    """An account of `provider` served by `fake` and its template; yields the template code."""
    with FakeHTTPServer(fake) as server:
        account = ChannelAccount.objects.create(
            app=tenant, name=provider, channel=provider.split("_app")[0], provider=provider,
            config=config, base_url=server.url,
        )  # fmt: skip
        MessageTemplate.objects.create(
            app=tenant, name=provider, code=f"t-{provider}", channel=account.channel,
            receiver_type=receiver_type, content=content, channel_account=account,
        )  # fmt: skip
        yield f"t-{provider}"


def agree(api, message: Message, template: str, expected: list[str]) -> None:
    """The message's trace, its API detail and the stats API tell the same story."""
    trace = list(message.events.order_by("id").values_list("state", flat=True))
    assert trace == expected
    detail = api.get(f"/api/v1/messages/{message.message_id}").json()
    assert [event["state"] for event in detail["events"]] == expected
    stats = api.get("/api/v1/stats", {"template": template}).json()["totals"]
    events = Counter(
        MessageEvent.objects.filter(message__template__code=template).values_list(
            "state", flat=True
        )
    )
    assert stats == dict(events)


@pytest.mark.usefixtures("module_worker", "clean_redis")
@pytest.mark.parametrize("provider", ["wechat_oa", "wechat_mp"])
def test_wechat_push_to_the_server_url(provider, transactional_db, api, tenant):
    aes_key = new_encoding_aes_key()
    fake = FakeWeChat(appid=f"wx-{provider}", template_ids={"TPL-1"})
    config = {"appid": fake.appid, "secret": fake.secret, "token": TOKEN,
              "encoding_aes_key": aes_key}  # fmt: skip
    content = {"template_id": "TPL-1", "data": {"first": "Hi {$name}"}}
    with channel(tenant, provider, fake, config, content) as template:
        delivered = _final(_send(api, template, "oAnn"))
        blocked = _final(_send(api, template, "oBob"))
    assert (delivered.state, blocked.state) == ("SENT", "SENT")
    # The msgid WeChat answered at send is the key of its receipt.
    accepted_ids = {delivered.provider_message_id, blocked.provider_message_id}
    assert all(pid.isdigit() for pid in accepted_ids) and len(accepted_ids) == 2

    wechat = WeChatServerPush(fake.appid, TOKEN, aes_key, json_format=provider == "wechat_mp")
    url = f"/r/{provider}/{delivered.account_id}/none"
    verification = Client().get(f"{url}?{wechat.verification('hello', safe=True)}")
    assert verification.content == b"hello"
    for message, ok in ((delivered, True), (blocked, False)):
        if provider == "wechat_oa":
            status = "success" if ok else "failed:user block"
            event = wechat.template_finished(message.receiver, message.provider_message_id, status)
        else:
            entry = {"TemplateId": "TPL-1", "MsgID": message.provider_message_id,
                     "ErrorCode": 0 if ok else 20004,
                     "ErrorStatus": "success" if ok else "fail: user refuse"}  # fmt: skip
            event = wechat.subscribe_event(message.receiver, "subscribe_msg_sent_event", [entry])
        query, body, kind = wechat.push(event, safe=True)
        response = Client().post(f"{url}?{query}", body, content_type=kind)
        assert (response.status_code, response.content) == (200, b"success")

    delivered.refresh_from_db()
    blocked.refresh_from_db()
    assert (delivered.state, blocked.state) == ("DELIVERED", "UNDELIVERED")
    before = ["ACCEPTED", "QUEUED", "SENDING", "SENT"]
    agree(api, delivered, template, [*before, "DELIVERED"])
    agree(api, blocked, template, [*before, "UNDELIVERED"])
    reason = blocked.events.get(state="UNDELIVERED").detail
    assert reason in ("wechat: failed:user block", "wechat_mp: fail: user refuse (ErrorCode 20004)")


@pytest.mark.usefixtures("module_worker", "clean_redis")
def test_feishu_read_state_pulled_by_the_beat_task(transactional_db, api, tenant):
    fake = FakeFeishuApp()
    config = {"app_id": fake.app_id, "app_secret": fake.app_secret}
    content = {"msg_type": "text", "text": "Deploy done, {$name}"}
    with channel(tenant, "feishu_app", fake, config, content, "user_id") as template:
        read = _final(_send(api, template, "ou_ann"))
        unread = _final(_send(api, template, "ou_bob"))
        assert (read.state, unread.state) == ("SENT", "SENT")
        # Feishu's message_id, answered at send, is what its read state is asked by.
        assert set(fake.messages) == {read.provider_message_id, unread.provider_message_id}
        fake.read(read.provider_message_id, "ou_ann")
        # Both were sent a minute ago: past the pull's settling delay.
        Message.objects.filter(pk__in=[read.pk, unread.pk]).update(
            sent_at=read.sent_at - timedelta(minutes=1)
        )

        pull_receipts.apply_async(queue=settings.TIDINGS_HOUSEKEEPING_QUEUE)

        assert wait_until(
            lambda: Message.objects.filter(pk=read.pk, state="READ").exists(), timeout=30
        )
    unread.refresh_from_db()
    assert unread.state == "SENT"  # nobody read it: Feishu has no delivery signal
    before = ["ACCEPTED", "QUEUED", "SENDING", "SENT"]
    agree(api, Message.objects.get(pk=read.pk), template, [*before, "READ"])
    agree(api, unread, template, before)
    assert read.events.get(state="READ").detail == "feishu: read"


@pytest.mark.usefixtures("module_worker", "clean_redis")
def test_wecom_skipped_receivers_from_the_send_answer(transactional_db, api, tenant):
    fake = FakeWeCom()
    config = {"corpid": fake.corpid, "corpsecret": fake.corpsecret, "agentid": fake.agentid}
    content = {"msgtype": "text", "content": "Deploy done, {$name}"}
    with channel(tenant, "wecom_app", fake, config, content, "user_id") as template:
        response = api.post(
            "/api/v1/send",
            {"template": template, "receivers": ["ann", "InvalidBob", "UnlicensedCid"],
             "variables": {"name": "Ada"}},
            format="json",
        )  # fmt: skip
        assert response.status_code == 202, response.content
        ids = [m["message_id"] for m in response.json()["messages"]]

        def finished() -> bool:
            done = Message.objects.filter(message_id__in=ids, state__in=["SENT", "UNDELIVERED"])
            return done.count() == 3

        assert wait_until(finished, timeout=30)
    messages = {m.receiver: m for m in Message.objects.filter(message_id__in=ids)}
    assert {r: m.state for r, m in messages.items()} == {
        "ann": "SENT", "InvalidBob": "UNDELIVERED", "UnlicensedCid": "UNDELIVERED",
    }  # fmt: skip
    assert len(fake.accepted) == 1  # one call for the three
    before = ["ACCEPTED", "QUEUED", "SENDING", "SENT"]
    agree(api, messages["ann"], template, before)  # WeCom has no receipts: SENT by design
    agree(api, messages["InvalidBob"], template, [*before, "UNDELIVERED"])
    assert messages["UnlicensedCid"].events.get(state="UNDELIVERED").detail == (
        "wecom: unlicenseduser (user has no WeCom license)"
    )
