"""All provider HTTP goes through `http_request`: requests' API (the request is built by
requests, the answer is a requests.Response), libcurl underneath (transport.py: pooled
connections, HTTP/2 where asked, a fixed timeout, the egress policy on every request), and one
place that turns transport failures and status codes into DeliveryErrors.

`pinned_session` is a requests session for the few callers that need one (streamed
attachment downloads, anymail's sessions): its transport adapter (`PinnedAdapter`) checks
each request's host with `egress_resolve` and connects to the address that was checked: the
urllib3 pool is keyed by that IP, while the Host header, TLS SNI and certificate check keep
the real name. Redirects are never followed, and proxies from the environment are ignored
(a proxy would resolve the name itself, after our check).
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.util import parse_url

from channels_app.providers.base import DeliveryError, excerpt
from channels_app.providers.egress import (
    HTTP_SCHEMES,
    EgressDenied,
    egress_resolve,
)
from channels_app.providers.transport import CurlResponse, curl_submit, curl_wait

_local = threading.local()


class PinnedAdapter(HTTPAdapter):
    """Connects to the address egress_resolve checked, never to a second DNS answer."""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parsed = parse_url(request.url)
        if (parsed.scheme or "").lower() not in HTTP_SCHEMES or not parsed.host:
            raise EgressDenied("refused: only http and https URLs")
        # The same parser urllib3 keys its pools with, so both agree on the host.
        port = parsed.port or (443 if parsed.scheme.lower() == "https" else 80)
        request.tidings_destination = egress_resolve(parsed.host, port)
        request.headers["Host"] = parsed.netloc
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        destination = request.tidings_destination
        host_params["host"] = destination.address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = destination.host
            pool_kwargs["assert_hostname"] = destination.host
        return host_params, pool_kwargs


def pinned_session() -> requests.Session:
    """This thread's session; every request through it obeys the egress policy. One per
    thread because a requests.Session is not thread-safe: the runner's threads
    (channels_app/providers/runner.py) each keep their own keep-alive connections."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False
        adapter = PinnedAdapter(pool_connections=32, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = "Tidings/1.0"
        _local.session = session
    return session


def http_request(
    method: str,
    url: str,
    *,
    check_status: bool = True,
    timeout: float | None = None,
    http2: bool = False,
    verify: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one request: `kwargs` as for requests (params, data, json, headers, files,
    auth); `http2` for a provider that speaks only HTTP/2; `verify`: a CA bundle to check
    the server's certificate with instead of certifi's. Never puts the URL in an error:
    URLs often carry tokens. Redirects are never followed."""
    # Schemes and hosts are the egress policy's: curl_submit checks the prepared URL.
    if not kwargs.get("params"):
        # No query: "" instead of requests' default {}, which goes through requests 2.34's
        # runtime Protocol check, ~23 of the ~58 µs that preparing a request takes.
        kwargs["params"] = ""
    try:
        prepared = requests.Request(method.upper(), url, **kwargs).prepare()
    except (ValueError, requests.RequestException) as exc:
        # An unparsable URL, a header value requests refuses, a body it cannot encode: the
        # request cannot be built, and retrying builds it the same way. The type only: the
        # text quotes the value.
        raise DeliveryError(
            f"request cannot be built: {type(exc).__name__}", permanent=True, code="bad_request"
        ) from None
    body = prepared.body
    timeout = timeout or settings.TIDINGS_PROVIDER_TIMEOUT_SECONDS
    future = curl_submit(
        prepared.method or method,
        prepared.url or url,
        body=body.encode() if isinstance(body, str) else body,
        headers=list(prepared.headers.items()),
        timeout=timeout,
        http2=http2,
        ca_file=verify,
    )
    answer = curl_wait(future, timeout)
    response = _response(prepared, answer)
    if check_status:
        raise_for_status(response)
    return response


def _response(prepared: requests.PreparedRequest, answer: CurlResponse) -> requests.Response:
    """The answer as requests would have built it (HTTPAdapter.build_response)."""
    response = requests.Response()
    response.status_code = answer.status_code
    response.reason = answer.reason
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in answer.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    response.headers = headers
    response.encoding = get_encoding_from_headers(headers)
    response._content = answer.body
    response.url = prepared.url or ""
    response.request = prepared
    return response


def raise_for_status(response: requests.Response) -> None:
    """4xx is permanent (the request is wrong), 429/408/5xx are transient; a redirect is
    permanent too, since it is never followed."""
    status = response.status_code
    if status < 300:
        return
    if status < 400:
        raise DeliveryError(
            f"provider answered HTTP {status} (redirects are not followed)",
            permanent=True,
            code="redirect",
        )
    body = excerpt(response.text)
    if status == 429:
        raise DeliveryError(
            f"rate limited by provider: {body}",
            rate_limited=True,
            retry_after=_retry_after(response),
            code="429",
        )
    if status == 408 or status >= 500:
        raise DeliveryError(f"provider error HTTP {status}: {body}", code=str(status))
    raise DeliveryError(
        f"rejected by provider HTTP {status}: {body}", permanent=True, code=str(status)
    )


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        return None
