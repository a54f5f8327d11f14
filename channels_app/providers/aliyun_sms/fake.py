"""An Alibaba Cloud dysmsapi `SendSms` (2017-05-25) endpoint that checks what Aliyun checks.

Merges query and form parameters, recomputes the V1 RPC signature (HMAC-SHA1 over
"POST&%2F&" + the percent-encoded sorted query), rejects replayed nonces and stale
timestamps, and answers in Aliyun's JSON shapes: gateway errors with HTTP 4xx, business
errors (isv.*) with HTTP 200, success with a BizId.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from channels_app.providers.fakes_http import Recorded, Reply

_COMMON = ("Action", "Version", "Format", "AccessKeyId", "SignatureMethod", "SignatureVersion")


def _encode(value: str) -> str:
    return quote(value, safe="~")


@dataclass
class FakeAliyunSms:
    access_key_id: str = "LTAIfake00000000"
    access_key_secret: str = "fake-access-key-secret"
    # A call containing one of these numbers fails as a whole with (Code, Message).
    number_codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    request_error: tuple[str, str] | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    _nonces: set[str] = field(default_factory=set)
    _biz: itertools.count = field(default_factory=lambda: itertools.count(100000))

    def __call__(self, request: Recorded) -> Reply:
        params = {key: values[-1] for key, values in request.query.items()}
        params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        request_id = str(uuid.uuid4()).upper()
        problem = self._check(request, params)
        if problem is not None:
            status, code, message = problem
            self.rejections.append(code)
            body = {"RequestId": request_id, "Code": code, "Message": message}
            if status != 200:
                body |= {"HostId": "dysmsapi.aliyuncs.com", "Recommend": "https://api.aliyun.com"}
            return Reply(status=status, body=body)
        if self.request_error is not None:
            code, message = self.request_error
            return Reply(body={"RequestId": request_id, "Code": code, "Message": message})
        numbers = params["PhoneNumbers"].split(",")
        for number in numbers:
            if number in self.number_codes:
                code, message = self.number_codes[number]
                self.rejections.append(code)
                return Reply(body={"RequestId": request_id, "Code": code, "Message": message})
        biz_id = f"{next(self._biz)}^0"
        template_param = json.loads(params["TemplateParam"]) if params.get("TemplateParam") else {}
        for number in numbers:
            self.accepted.append(
                {
                    "phone": number,
                    "biz_id": biz_id,
                    "sign_name": params["SignName"],
                    "template_code": params["TemplateCode"],
                    "template_param": template_param,
                    "out_id": params.get("OutId", ""),
                }
            )
        return Reply(body={"Message": "OK", "RequestId": request_id, "Code": "OK", "BizId": biz_id})

    def _check(self, request: Recorded, params: dict[str, str]) -> tuple[int, str, str] | None:
        for name in _COMMON:
            if not params.get(name):
                return 400, f"Missing{name}", f"{name} is mandatory for this action."
        if params["Action"] != "SendSms":
            return 404, "InvalidAction.NotFound", "Specified api is not found."
        if params["Version"] != "2017-05-25":
            return 400, "InvalidVersion", "Specified parameter Version is not valid."
        if params["Format"] != "JSON":
            return 400, "InvalidParameter", "this fake only answers JSON"
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return 400, "InvalidSignatureMethod", "Specified signature method is not valid."
        if params["AccessKeyId"] != self.access_key_id:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        try:
            stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return 400, "InvalidTimeStamp.Format", "Specified time stamp is not valid."
        if abs((datetime.now(UTC).replace(tzinfo=None) - stamp).total_seconds()) > 900:
            return (
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date header is expired.",
            )
        signature = params.get("Signature", "")
        unsigned = {k: v for k, v in params.items() if k != "Signature"}
        canonical = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(unsigned.items()))
        to_sign = f"{request.method}&%2F&{_encode(canonical)}"
        expected = base64.b64encode(
            hmac.new(
                (self.access_key_secret + "&").encode(), to_sign.encode(), hashlib.sha1
            ).digest()
        ).decode()
        if not hmac.compare_digest(expected, signature):
            return (
                400,
                "SignatureDoesNotMatch",
                f"Specified signature is not matched with our calculation. server string to sign is:{to_sign}",
            )
        nonce = params.get("SignatureNonce", "")
        if not nonce:
            return 400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action."
        if nonce in self._nonces:
            return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
        self._nonces.add(nonce)
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                return 400, f"Missing{name}", f"{name} is mandatory for this action."
        numbers = params["PhoneNumbers"].split(",")
        if len(numbers) > 1000:
            return 200, "isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制"
        if not all(re.fullmatch(r"1\d{10}|[1-9]\d{6,14}", n) for n in numbers):
            return 200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"
        if params.get("TemplateParam"):
            try:
                value = json.loads(params["TemplateParam"])
            except ValueError:
                value = None
            if not isinstance(value, dict):
                return 200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
        return None
