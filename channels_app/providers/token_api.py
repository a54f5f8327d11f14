"""APIs that take `?access_token=` and answer `{"errcode": …}` (WeChat, WeCom, DingTalk):
the token comes from the shared cache (read once per adapter:
ProviderAdapter.provider_token), and a call whose token the provider rejected is made once
more with a fresh one."""

from __future__ import annotations

from typing import Any, ClassVar

from channels_app.providers.base import DeliveryError
from channels_app.providers.http import http_request


def json_object(response, provider: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DeliveryError(f"{provider}: answer is not a JSON object", code="bad_response")
    return body


class AccessTokenApi:
    """Mixin for a ProviderAdapter: set `token_errors`, implement `token_name`,
    `_fetch_token() -> (token, expires_in)` and `api_error(code, message)`."""

    base_url: str
    # "invalid credential", "invalid access_token", "access_token expired"
    token_errors: ClassVar[frozenset[int]] = frozenset({40001, 40014, 42001})

    @property
    def token_name(self) -> str:
        raise NotImplementedError

    def _fetch_token(self) -> tuple[str, int]:
        raise NotImplementedError

    def api_error(self, code: int, message: str) -> DeliveryError:
        raise NotImplementedError

    def error_code(self, body: dict[str, Any]) -> int:
        return int(body.get("errcode") or 0)

    def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with the cached token; a rejected token is refreshed and the call made once more."""
        return self._with_token(path, {}, json=payload)

    def upload(self, path: str, params: dict[str, str], files: dict[str, Any]) -> dict[str, Any]:
        """A multipart POST (media uploads) with the same token handling as `call`."""
        return self._with_token(path, params, files=files)

    def _with_token(self, path: str, params: dict[str, str], **body: Any) -> dict[str, Any]:
        for attempt in range(2):
            token = self.provider_token(self.token_name, self._fetch_token)  # type: ignore[attr-defined]
            response = http_request(
                "POST", f"{self.base_url}{path}", params={**params, "access_token": token}, **body
            )
            body_json = json_object(response, self.provider)  # type: ignore[attr-defined]
            code = self.error_code(body_json)
            if code == 0:
                return body_json
            if code in self.token_errors and attempt == 0:
                self.provider_token_rejected(self.token_name, token)  # type: ignore[attr-defined]
                continue
            raise self.api_error(code, str(body_json.get("errmsg", "")))
        raise AssertionError("unreachable")
