"""An Amazon SES v2 SendEmail responder for FakeHTTPServer.

Like SES it checks the SigV4 Authorization header: the credential scope (access key id,
region, service "ses") and the signature itself, recomputed with botocore from the signed
headers, so a wrong secret is refused too. Errors use SES's restJson shape
(x-amzn-ErrorType header + {"message": ...}), which botocore parses into ClientError codes.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from channels_app.providers.fakes_http import Recorded, Reply

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def ses_error(status: int, code: str, message: str) -> Reply:
    return Reply(status=status, body={"message": message}, headers={"x-amzn-ErrorType": code})


class FakeSes:
    def __init__(
        self,
        access_key_id: str = "AKIAFAKEKEY0000TEST",
        secret_access_key: str = "fake-secret-access-key-0000",
        region: str = "eu-west-1",
    ):
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.region = region
        self.url = ""  # set to the FakeHTTPServer url: the signature covers the host
        self.sent: list[dict[str, Any]] = []  # {"params": body json, "mime": parsed message}
        self.fail_with: Reply | None = None
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/v2/email/outbound-emails":
            return ses_error(404, "UnknownOperationException", "Unknown operation")
        problem = self._check_signature(request)
        if problem:
            return problem
        try:
            params = request.json
        except ValueError:
            return ses_error(400, "BadRequestException", "Invalid JSON")
        destination = (params.get("Destination") or {}).get("ToAddresses") or []
        content = params.get("Content") or {}
        mime: EmailMessage | None = None
        if "Raw" in content:
            try:
                raw = base64.b64decode(content["Raw"]["Data"], validate=True)
            except (KeyError, TypeError, ValueError):
                return ses_error(400, "BadRequestException", "Content.Raw.Data must be base64")
            mime = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
            if not destination:
                destination = [str(a) for a in mime.get_all("To", [])]
            if not mime["From"] and not params.get("FromEmailAddress"):
                return ses_error(400, "BadRequestException", "Missing From")
        elif "Simple" in content:
            simple = content["Simple"]
            if not (simple.get("Subject") or {}).get("Data") or not simple.get("Body"):
                return ses_error(400, "BadRequestException", "Simple needs Subject and Body")
            if not params.get("FromEmailAddress"):
                return ses_error(400, "BadRequestException", "FromEmailAddress is required")
        else:
            return ses_error(400, "BadRequestException", "Content must be Raw, Simple or Template")
        if not destination:
            return ses_error(400, "BadRequestException", "No recipients")
        if self.fail_with is not None:
            return self.fail_with
        with self._lock:
            self.sent.append({"params": params, "mime": mime})
        return Reply(status=200, body={"MessageId": f"0102{uuid.uuid4().hex}-000000"})

    def _check_signature(self, request: Recorded) -> Reply | None:
        match = _AUTH.match(request.headers.get("authorization", ""))
        if not match:
            return ses_error(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        if match["key"] != self.access_key_id:
            return ses_error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if match["region"] != self.region or match["service"] != "ses":
            return ses_error(
                403,
                "SignatureDoesNotMatch",
                f"Credential should be scoped to a valid region, not '{match['region']}'.",
            )
        amz_date = request.headers.get("x-amz-date", "")
        if not amz_date.startswith(match["date"]):
            return ses_error(
                403, "SignatureDoesNotMatch", "Date in Credential scope does not match."
            )
        signed = match["signed"].split(";")
        aws_request = AWSRequest(
            method=request.method,
            url=self.url + request.path,
            data=request.body,
            headers={name: request.headers.get(name, "") for name in signed},
        )
        aws_request.context["timestamp"] = amz_date
        signer = SigV4Auth(
            Credentials(self.access_key_id, self.secret_access_key), "ses", self.region
        )
        string_to_sign = signer.string_to_sign(aws_request, signer.canonical_request(aws_request))
        if signer.signature(string_to_sign, aws_request) != match["signature"]:
            return ses_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None
