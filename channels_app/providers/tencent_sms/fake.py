"""A Tencent Cloud SMS `SendSms` (2021-01-11) endpoint that checks what Tencent checks.

Recomputes the TC3-HMAC-SHA256 signature from the request it received (independently of the
adapter's code), checks the common headers, the body fields and the 200-number limit, and
answers in Tencent's shape: HTTP 200 with `Response.Error` or `Response.SendStatusSet`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from channels_app.providers.fakes_http import Recorded, Reply

_AUTH = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[\w-]+)"
    r"/tc3_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<sig>[0-9a-f]{64})$"
)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class FakeTencentSms:
    secret_id: str = "AKIDfake0000000000000000000000000000"
    secret_key: str = "fake-secret-key"
    sms_sdk_app_id: str = "1400006666"
    # Per-number answers other than Ok: {"+8613800000000": ("Code", "Message")}.
    number_codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Fail the whole request with this (Code, Message), e.g. RequestLimitExceeded.
    request_error: tuple[str, str] | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    _serials: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __call__(self, request: Recorded) -> Reply:
        request_id = str(uuid.uuid4())
        problem = self._check(request)
        if problem is not None:
            code, message = problem
            self.rejections.append(code)
            return _error(code, message, request_id)
        if self.request_error is not None:
            return _error(*self.request_error, request_id)
        body = request.json
        statuses = []
        for phone in body["PhoneNumberSet"]:
            code, message = self.number_codes.get(phone, ("Ok", "send success"))
            if code == "Ok" and not _E164.match(phone):
                code, message = "InvalidParameterValue.IncorrectPhoneNumber", "bad number"
            serial = f"2433:{next(self._serials):032d}" if code == "Ok" else ""
            statuses.append(
                {
                    "SerialNo": serial,
                    "PhoneNumber": phone,
                    "Fee": 1 if code == "Ok" else 0,
                    "SessionContext": body.get("SessionContext", ""),
                    "Code": code,
                    "Message": message,
                    "IsoCode": "CN" if phone.startswith("+86") else "",
                }
            )
            if code == "Ok":
                self.accepted.append(
                    {
                        "phone": phone,
                        "serial": serial,
                        "template_id": body["TemplateId"],
                        "sign_name": body.get("SignName", ""),
                        "params": list(body.get("TemplateParamSet") or []),
                        "region": request.headers.get("x-tc-region"),
                    }
                )
        return Reply(body={"Response": {"SendStatusSet": statuses, "RequestId": request_id}})

    def _check(self, request: Recorded) -> tuple[str, str] | None:
        headers = request.headers
        if request.method != "POST" or request.path != "/":
            return "InvalidAction", "only POST / is served"
        if headers.get("x-tc-action") != "SendSms":
            return "InvalidAction", "the action is not SendSms"
        if headers.get("x-tc-version") != "2021-01-11":
            return "NoSuchVersion", "the version is not 2021-01-11"
        if headers.get("x-tc-region") not in {
            "ap-guangzhou",
            "ap-beijing",
            "ap-nanjing",
            "ap-singapore",
        }:
            return "UnsupportedRegion", "the region is not supported"
        match = _AUTH.match(headers.get("authorization", ""))
        if match is None:
            return "AuthFailure.InvalidAuthorization", "Authorization is not TC3-HMAC-SHA256"
        if match["id"] != self.secret_id:
            return "AuthFailure.SecretIdNotFound", "the SecretId is not found"
        timestamp = headers.get("x-tc-timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return "AuthFailure.SignatureExpire", "the signature expired"
        if match["date"] != datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d"):
            return "AuthFailure.SignatureFailure", "credential date is not the timestamp's UTC date"
        signed = match["signed"].split(";")
        if "content-type" not in signed or "host" not in signed:
            return "AuthFailure.SignatureFailure", "content-type and host must be signed"
        canonical_headers = "".join(
            f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed
        )
        canonical_request = "\n".join(
            [
                "POST",
                "/",
                "",
                canonical_headers,
                match["signed"],
                hashlib.sha256(request.body).hexdigest(),
            ]
        )
        scope = f"{match['date']}/{match['service']}/tc3_request"
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                timestamp,
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        key = hmac.new(
            ("TC3" + self.secret_key).encode(), match["date"].encode(), hashlib.sha256
        ).digest()
        key = hmac.new(key, match["service"].encode(), hashlib.sha256).digest()
        key = hmac.new(key, b"tc3_request", hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["sig"]) or match["service"] != "sms":
            return "AuthFailure.SignatureFailure", "the signature does not match"
        try:
            body = request.json
        except ValueError:
            return "FailedOperation.JsonParseFail", "the body is not JSON"
        for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId"):
            if not body.get(name):
                return "MissingParameter", f"the parameter {name} is missing"
        if body["SmsSdkAppId"] != self.sms_sdk_app_id:
            return "UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verify failed"
        if len(body["PhoneNumberSet"]) > 200:
            return "LimitExceeded.PhoneNumberCountLimit", "more than 200 numbers"
        params = body.get("TemplateParamSet") or []
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return "InvalidParameter", "TemplateParamSet must be a list of strings"
        domestic = {phone.startswith("+86") for phone in body["PhoneNumberSet"]}
        if len(domestic) > 1:
            return (
                "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
                "mainland and international numbers in one request",
            )
        if True in domestic and not body.get("SignName"):
            return "MissingParameter", "SignName is required for mainland China SMS"
        return None


def _error(code: str, message: str, request_id: str) -> Reply:
    return Reply(
        body={"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}
    )
