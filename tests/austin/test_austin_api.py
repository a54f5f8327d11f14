"""The austin-compatible API: austin's bodies, answers and codes over Tidings' pipeline."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from channels_app.models import ChannelAccount, SandboxDelivery
from notify.delivery import batch_deliver
from templates_app.models import MessageTemplate
from tests.e2e.conftest import wait_until
from tracking.models import Message

README_CURL_BODY = {
    "code": "send",
    "messageParam": {"extra": None, "receiver": "13719333899"},
    "messageTemplateId": 1,
}


def deliver_all() -> None:
    batch_deliver(list(Message.objects.filter(state="QUEUED").values_list("id", flat=True)))


@pytest.mark.e2e
def test_austin_readme_curl_is_sent_and_traced_through_a_real_worker(api, plain_sms, start_worker):
    start_worker()
    response = api.post("/send", README_CURL_BODY, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "0" and body["msg"] == "操作成功"
    [info] = body["data"]
    assert set(info) == {"bizId", "messageId", "businessId"}
    assert info["bizId"] == info["messageId"]  # no bizId given: austin falls back to it
    today = timezone.localdate().strftime("%Y%m%d")
    assert str(info["businessId"]) == f"{20_000_000 + 1}{today}"
    assert wait_until(
        lambda: Message.objects.get(message_id=info["messageId"]).state == "SENT", timeout=60
    )
    assert SandboxDelivery.objects.filter(receiver="13719333899").count() == 1
    # the messageId works in Tidings' own trace and in austin's trace lookups
    assert api.get(f"/api/v1/messages/{info['messageId']}").json()["state"] == "SENT"
    trace = api.post("/trace/message", {"messageId": info["messageId"]}, format="json").json()
    assert trace["status"] == "0"
    [item] = trace["data"]["items"]
    assert item["detail"].startswith(timezone.localtime().strftime("%Y-%m-%d"))
    assert "消息接收成功==>" in item["detail"] and "消息下发成功==>" in item["detail"]
    assert item["businessId"] == str(info["businessId"]) and item["title"] == "austin demo"
    user = api.post("/trace/user", {"receiver": "13719333899"}, format="json").json()
    assert [i["messageId"] for i in user["data"]["items"]] == [info["messageId"]]
    chart = api.post(
        "/trace/messageTemplate", {"businessId": str(info["businessId"])}, format="json"
    ).json()["data"]
    counts = dict(zip(chart["xAxis"]["data"], chart["series"][0]["data"], strict=True))
    assert counts["消息接收成功"] == 1 and counts["消息下发成功"] == 1


def test_batch_send_three_params_each_with_its_own_variables(api, sms):
    response = api.post(
        "/batchSend",
        {
            "code": "send",
            "messageTemplateId": 1,
            "messageParamList": [
                {"receiver": "13719333899", "variables": {"name": "A"}, "bizId": "b1"},
                {"receiver": "13719333898,13719333897", "variables": {"name": "B"}},
                {"receiver": "+14155550100", "variables": {"name": "C"}, "bizId": "b3"},
            ],
        },
        format="json",
    )
    body = response.json()
    assert response.status_code == 200 and body["code"] == "0", body
    assert [d["bizId"] for d in body["data"]][0] == "b1" and body["data"][-1]["bizId"] == "b3"
    assert len(body["data"]) == 4  # one Tidings message per receiver
    deliver_all()
    sent = {m.receiver: m.content["text"] for m in Message.objects.filter(state="SENT")}
    assert sent == {
        "13719333899": "Hello A",
        "13719333898": "Hello B",
        "13719333897": "Hello B",
        "+14155550100": "Hello C",
    }


def test_template_id_resolves_austin_id_first_then_tidings_id(api, tenant, sms):
    other = MessageTemplate.objects.create(
        app=tenant, name="other", code="other", channel="sms", receiver_type="phone",
        content={"text": "other"},
    )  # fmt: skip

    def template_of(template_id: int) -> int:
        body = {"code": "send", "messageTemplateId": template_id,
                "messageParam": {"receiver": "13719333899", "variables": {"name": str(template_id)}}}  # fmt: skip
        answer = api.post("/send", body, format="json").json()
        assert answer["code"] == "0", answer
        return Message.objects.get(message_id=answer["data"][0]["messageId"]).template_id

    # a template's austin_id wins over another template's Tidings id
    sms.austin_id = other.pk
    sms.save()
    assert template_of(other.pk) == sms.pk
    # no austin_id matches: the Tidings id
    sms.austin_id = None
    sms.save()
    assert template_of(other.pk) == other.pk


def test_numeric_receiver_is_taken_as_austin_did(api, sms):
    body = {"code": "send", "messageTemplateId": 1,
            "messageParam": {"receiver": 13719333899, "variables": {"name": 7}}}  # fmt: skip
    answer = api.post("/send", body, format="json").json()
    assert answer["code"] == "0", answer
    message = Message.objects.get(message_id=answer["data"][0]["messageId"])
    assert message.receiver == "13719333899"


def test_same_pipeline_idempotency_key_answers_the_first_call(api, sms):
    body = {"code": "send", "messageTemplateId": 1,
            "messageParam": {"receiver": "13719333899", "variables": {"name": "x"}}}  # fmt: skip
    first = api.post("/send", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    again = api.post("/send", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").json()
    assert first["data"] == again["data"]
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        # A0001 client bad parameters
        ("/send", {"code": "send", "messageParam": {"receiver": "13719333899"}}, "A0001"),
        ("/send", {"code": "send", "messageTemplateId": 1}, "A0001"),
        ("/send", {"code": "send", "messageTemplateId": 1, "messageParam": {"receiver": ""}}, "A0001"),
        ("/send", {"code": "send", "messageTemplateId": "x", "messageParam": {"receiver": "1"}}, "A0001"),
        ("/send", {"code": "send", "messageTemplateId": "²", "messageParam": {"receiver": "1"}}, "A0001"),
        ("/send", {"code": "send", "messageTemplateId": 1, "messageParam": {"receiver": "not-a-phone", "variables": {"name": "n"}}}, "A0001"),
        ("/send", {"code": "send", "messageTemplateId": 1, "messageParam": {"receiver": "13719333899"}}, "A0001"),  # missing variable
        ("/send", {"code": "recall", "messageTemplateId": 1}, "A0001"),
        ("/batchSend", {"code": "send", "messageTemplateId": 1, "messageParamList": []}, "A0001"),
        ("/send", [], "A0001"),
        # A0002 template not found
        ("/send", {"code": "send", "messageTemplateId": 999999, "messageParam": {"receiver": "13719333899"}}, "A0002"),
        ("/recall", {"code": "recall", "messageTemplateId": 999999}, "A0002"),
        ("/send", {"code": "send", "messageTemplateId": 10**20, "messageParam": {"receiver": "1"}}, "A0002"),
        ("/send", {"code": "send", "messageTemplateId": -1, "messageParam": {"receiver": "1"}}, "A0002"),
        # A0003 more than 100 receivers in one param
        ("/send", {"code": "send", "messageTemplateId": 1, "messageParam": {"receiver": ",".join(f"1371933{i:04d}" for i in range(101))}}, "A0003"),
        # P0002 / P0003: business code missing / unknown
        ("/send", {"messageTemplateId": 1, "messageParam": {"receiver": "13719333899"}}, "P0002"),
        ("/send", {"code": "nope", "messageTemplateId": 1, "messageParam": {"receiver": "1"}}, "P0003"),
    ],
)  # fmt: skip
def test_austin_error_codes(api, sms, path, body, code):
    response = api.post(path, body, format="json")
    assert response.status_code == 200  # as austin: the outcome is in `code`
    assert response.json()["code"] == code, response.json()
    assert response.json()["data"] is None
    assert Message.objects.count() == 0


def test_disabled_template_is_a0002_and_no_account_is_b0001(api, tenant, sms):
    sms.status = "disabled"
    sms.save()
    body = {"code": "send", "messageTemplateId": 1,
            "messageParam": {"receiver": "13719333899", "variables": {"name": "n"}}}  # fmt: skip
    assert api.post("/send", body, format="json").json()["code"] == "A0002"
    sms.status = "active"
    sms.save()
    ChannelAccount.objects.filter(app=tenant).update(enabled=False)
    assert api.post("/send", body, format="json").json()["code"] == "B0001"


def test_bad_json_is_a0001_and_missing_key_is_401_a0005(api, sms):
    bad = api.post("/send", "{not json", content_type="application/json")
    assert bad.status_code == 200 and bad.json()["code"] == "A0001"
    anonymous = APIClient().post("/send", {"code": "send"}, format="json")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "A0005"


def test_recall_by_message_ids_and_by_template(api, tenant, ding):
    template = MessageTemplate.objects.get(code="ding")
    template.austin_id = 7
    template.save()
    ids = []
    for user in ("u1", "u2"):
        body = {"code": "send", "messageTemplateId": 7,
                "messageParam": {"receiver": user, "variables": {"name": user}}}  # fmt: skip
        ids.append(api.post("/send", body, format="json").json()["data"][0]["messageId"])
    deliver_all()

    one = api.post(
        "/recall",
        {"code": "recall", "messageTemplateId": 7, "recallMessageIds": [ids[0]]},
        format="json",
    ).json()
    assert one["code"] == "0" and [d["messageId"] for d in one["data"]] == [ids[0]]
    assert Message.objects.get(message_id=ids[0]).state == "RECALLED"
    assert Message.objects.get(message_id=ids[1]).state == "SENT"
    # no ids: the template's recent messages
    rest = api.post("/recall", {"code": "recall", "messageTemplateId": 7}, format="json").json()
    assert rest["code"] == "0" and [d["messageId"] for d in rest["data"]] == [ids[1]]
    # nothing left that can be withdrawn
    again = api.post(
        "/recall",
        {"code": "recall", "messageTemplateId": 7, "recallMessageIds": ids},
        format="json",
    ).json()
    assert again["code"] == "-1" and "already recalled" in again["msg"]


def test_austin_routes_are_in_the_openapi_schema_under_their_tag(api):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for route in (
        "/send",
        "/batchSend",
        "/recall",
        "/trace/message",
        "/trace/user",
        "/trace/messageTemplate",
    ):
        assert schema["paths"][route]["post"]["tags"] == ["austin"]
