"""Images for Feishu / Lark bots. A custom bot cannot upload: the image goes up through the
open API of a Feishu app of the same tenant (the account's optional app_id / app_secret:
tenant_access_token, then POST /open-apis/im/v1/images with image_type=message), and the
bot sends `{"msg_type": "image", "content": {"image_key": …}}`. Image keys do not expire;
one upload per app and content is reused for 30 days."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from channels_app.providers.attachments import Attachment
from channels_app.providers.base import DeliveryError
from channels_app.providers.http import http_request
from channels_app.providers.media import MB, MediaLimits, uploaded_media_id
from channels_app.providers.tokens import cached_token, token_invalidate

IMAGE_LIMITS = MediaLimits(
    10 * MB,
    ("image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/bmp",
     "image/x-icon", "image/vnd.microsoft.icon"),
)  # fmt: skip
IMAGE_KEY_TTL_SECONDS = 30 * 24 * 3600
# "invalid access token" / "access token expired": refresh once and retry.
TOKEN_ERRORS = frozenset({99991661, 99991663, 99991668})


def _answer(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DeliveryError(f"feishu {what}: answer is not a JSON object", code="bad_response")
    return body


class FeishuImages:
    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        error: Callable[[int, str], DeliveryError],
    ):
        self.base_url, self.app_id, self.app_secret = base_url, app_id, app_secret
        self.error = error  # feishu_error(code, message) of the adapter
        self.token_name = f"feishu:{app_id}"

    def image_key(self, item: dict[str, Any]) -> str:
        return uploaded_media_id(
            f"{self.token_name}:image", item, IMAGE_LIMITS, self._upload, IMAGE_KEY_TTL_SECONDS
        )

    def _upload(self, attachment: Attachment) -> str:
        for attempt in range(2):
            token = cached_token(self.token_name, self._fetch_token)
            response = http_request(
                "POST",
                f"{self.base_url}/open-apis/im/v1/images",
                headers={"Authorization": f"Bearer {token}"},
                data={"image_type": "message"},
                files={"image": (attachment.filename, attachment.content, attachment.mimetype)},
                check_status=False,
            )
            body = _answer(response, "image upload")
            code = int(body.get("code") or 0)
            if code in TOKEN_ERRORS and attempt == 0:
                token_invalidate(self.token_name, token)
                continue
            if code or response.status_code >= 400:
                raise self.error(code or response.status_code, str(body.get("msg", "")))
            return str((body.get("data") or {})["image_key"])
        raise AssertionError("unreachable")

    def _fetch_token(self) -> tuple[str, int]:
        response = http_request(
            "POST",
            f"{self.base_url}/open-apis/auth/v3/tenant_access_token/internal",
            json={"app_id": self.app_id, "app_secret": self.app_secret},
            check_status=False,
        )
        body = _answer(response, "tenant_access_token")
        code = int(body.get("code") or 0)
        if code or not body.get("tenant_access_token"):
            # A wrong app_id / app_secret: no retry fixes it.
            raise DeliveryError(
                f"feishu: tenant_access_token refused: {str(body.get('msg', ''))[:200]}",
                permanent=True,
                code=str(code or "no_token"),
            )
        return str(body["tenant_access_token"]), int(body.get("expire") or 7200)
