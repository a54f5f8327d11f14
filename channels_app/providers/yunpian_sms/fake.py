"""Yunpian v2 `batch_send.json` / `tpl_batch_send.json` that checks what Yunpian checks: the
apikey, the form fields, the 1000-number limit, the signature in the text, and the template's
#variables#; it answers Yunpian's shapes: {"total_count", "total_fee", "unit", "data": [one
entry per number with code/msg/sid]} or a whole-call error {"http_status_code", "code", "msg", "detail"}.

Each accepted number also gets a delivery report (SUCCESS, or what `report_outcomes` says),
handed out once by `pull_status.json` (apikey, page_size ≤ 100) or taken by `push_body()`,
the form Yunpian POSTs to a receipt URL: sms_status=urlencode(JSON array).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from zoneinfo import ZoneInfo

from channels_app.providers.fakes_http import Recorded, Reply

CHINA = ZoneInfo("Asia/Shanghai")  # Yunpian reports Beijing time

_MOBILE = re.compile(r"^(1\d{10}|\+[1-9]\d{6,14})$")
_SIGNATURE = re.compile(r"^【[^】]+】|【[^】]+】$")


@dataclass
class FakeYunpianSms:
    apikey: str = "0123456789abcdef0123456789abcdef"
    # Approved templates: tpl_id -> text with #name# placeholders.
    templates: dict[str, str] = field(
        default_factory=lambda: {"1234567": "【Acme】您的验证码是#code#，#minutes#分钟内有效"}
    )
    # Per-number answers other than success: {"13800000000": (code, msg)}.
    number_codes: dict[str, tuple[int, str]] = field(default_factory=dict)
    request_error: tuple[int, int, str] | None = None  # (HTTP status, code, msg)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    # Per-number report other than delivered: {"13800000000": ("MK:0001", "空号")}.
    report_outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)  # not yet pulled or pushed
    pull_enabled: bool = True
    rejections: list[int] = field(default_factory=list)
    _sids: itertools.count = field(default_factory=lambda: itertools.count(3310228982))

    def __call__(self, request: Recorded) -> Reply:
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        if request.path == "/v2/sms/pull_status.json":
            return self._pull(form)
        problem = self._check(request, form)
        if problem is None and self.request_error is not None:
            problem = self.request_error + ("",)
        if problem is not None:
            status, code, msg, detail = problem
            self.rejections.append(code)
            return Reply(
                status=status,
                body={"http_status_code": status, "code": code, "msg": msg, "detail": detail},
            )
        text = form.get("text") or self._render(form)
        entries = []
        for mobile in form["mobile"].split(","):
            code, msg = self.number_codes.get(mobile, (0, "发送成功"))
            if code == 0 and not _MOBILE.match(mobile):
                code, msg = 2, "参数 mobile 格式不正确"
            entry: dict[str, Any] = {
                "code": code,
                "msg": msg,
                "count": 0,
                "fee": 0.0,
                "unit": "RMB",
                "mobile": mobile,
                "sid": 0,
            }
            if code == 0:
                entry |= {"count": 1, "fee": 0.05, "sid": next(self._sids)}
                self.accepted.append({"mobile": mobile, "sid": entry["sid"], "text": text})
                self.reports.append(self._report(mobile, entry["sid"]))
            entries.append(entry)
        total = sum(e["count"] for e in entries)
        return Reply(
            body={
                "total_count": total,
                "total_fee": f"{total * 0.05:.4f}",
                "unit": "RMB",
                "data": entries,
            }
        )

    def _report(self, mobile: str, sid: int) -> dict[str, Any]:
        error_msg, error_detail = self.report_outcomes.get(mobile, ("DELIVRD", ""))
        return {
            "sid": sid,
            "uid": None,
            "user_receive_time": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "error_msg": error_msg,
            "mobile": mobile.removeprefix("+86"),
            "report_status": "SUCCESS" if error_msg == "DELIVRD" else "FAIL",
            "error_detail": error_detail,
        }

    def push_body(self, *, twice: bool = False) -> str:
        """The form body Yunpian POSTs to the receipt URL, with every pending report."""
        reports, self.reports = self.reports, []
        value = json.dumps(reports, ensure_ascii=False)
        return urlencode({"sms_status": quote(value) if twice else value})

    def _pull(self, form: dict[str, str]) -> Reply:
        if form.get("apikey") != self.apikey:
            return Reply(
                401, {"http_status_code": 401, "code": -1, "msg": "非法的apikey", "detail": ""}
            )
        if not self.pull_enabled:
            return Reply(
                400,
                {
                    "http_status_code": 400,
                    "code": -3,
                    "msg": "权限不足",
                    "detail": "未开通获取状态报告",
                },
            )
        size = int(form.get("page_size") or 20)
        if not 1 <= size <= 100:
            return Reply(
                400,
                {
                    "http_status_code": 400,
                    "code": 2,
                    "msg": "请求参数格式错误",
                    "detail": "page_size 最大100",
                },
            )
        page, self.reports = self.reports[:size], self.reports[size:]
        return Reply(body=page)

    def _render(self, form: dict[str, str]) -> str:
        text = self.templates[form["tpl_id"]]
        for name, value in parse_qsl(form["tpl_value"], keep_blank_values=True):
            text = text.replace(name, value)
        return text

    def _check(self, request: Recorded, form: dict[str, str]) -> tuple[int, int, str, str] | None:
        if request.method != "POST":
            return 405, 11, "接口不支持GET方式调用", ""
        if request.path not in ("/v2/sms/batch_send.json", "/v2/sms/tpl_batch_send.json"):
            return 404, 2, "请求参数格式错误", "unknown endpoint"
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return 400, 1, "请求参数缺失", "form body expected"
        if form.get("apikey") != self.apikey:
            return 401, -1, "非法的apikey", "请检查的apikey是否正确"
        if not form.get("mobile"):
            return 400, 1, "请求参数缺失", "参数 mobile 必须传入"
        if len(form["mobile"].split(",")) > 1000:
            return 400, 2, "请求参数格式错误", "参数 mobile 格式不正确，一次不要超过1000个"
        if request.path.endswith("/batch_send.json") and not request.path.endswith(
            "tpl_batch_send.json"
        ):
            text = form.get("text", "")
            if not text:
                return 400, 1, "请求参数缺失", "参数 text 必须传入"
            if not _SIGNATURE.search(text):
                return 400, 2, "请求参数格式错误", "text 中缺少签名"
            return None
        if not form.get("tpl_id") or "tpl_value" not in form:
            return 400, 1, "请求参数缺失", "参数 tpl_id, tpl_value 必须传入"
        template = self.templates.get(form["tpl_id"])
        if template is None:
            return 400, 5, "未找到对应id的模板", f"tpl_id {form['tpl_id']}"
        given = dict(parse_qsl(form["tpl_value"], keep_blank_values=True))
        needed = set(re.findall(r"#\w+#", template))
        if needed - set(given) or not all(given.values()):
            return 400, 2, "请求参数格式错误", "tpl_value 与模板变量不匹配"
        return None
