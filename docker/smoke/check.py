"""The smoke's checks against the running compose stack (docker/smoke/run.sh); stdlib only.

Usage: check.py <api key>. Sends through the API (sandbox email provider, click tracking,
marketing type so the unsubscribe header is added), runs a CSV campaign uploaded through
the API, checks that the click and unsubscribe links use TIDINGS_PUBLIC_URL and work when
followed, waits for the workers' provider-latency histogram in Prometheus and for Flower to
see the workers, then stops worker-high (SMOKE_COMPOSE: the compose command) in the middle
of a slow provider call: the warm shutdown must finish it, once."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WEB = os.environ.get("SMOKE_WEB", "http://127.0.0.1:18000")
PROMETHEUS = os.environ.get("SMOKE_PROMETHEUS", "http://127.0.0.1:19090")
FLOWER = os.environ.get("SMOKE_FLOWER", "http://127.0.0.1:15555")
PUBLIC_URL = os.environ["TIDINGS_PUBLIC_URL"].rstrip("/")
SLOW_HOOK_PORT = 18090
SLOW_HOOK_SECONDS = 6
FINAL = {"SENT", "DELIVERED", "FAILED", "UNDELIVERED", "EXPIRED", "CLICKED", "READ"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def call(method: str, url: str, key: str | None = None, body=None, *, content_type=None):
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Api-Key {key}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type or "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def api(method: str, path: str, key: str, body=None, expect=(200, 201, 202), **kw):
    status, _headers, raw = call(method, WEB + path, key, body, **kw)
    if status not in expect:
        raise SystemExit(f"FAIL {method} {path}: {status} {raw[:500]!r}")
    return json.loads(raw) if raw else {}


def wait(what: str, probe, timeout: float = 120, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"FAIL timed out waiting for {what}")


def ok(text: str) -> None:
    print(f"smoke: ok  {text}", flush=True)


def multipart(field: str, name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def main(key: str) -> None:
    account = api("POST", "/api/v1/channel-accounts/", key,
                  {"name": "sandbox-email", "channel": "email", "provider": "sandbox", "config": {}})  # fmt: skip
    ok(f"channel account {account['id']} (sandbox email) created through the API")
    api("POST", "/api/v1/templates/", key, {
        "name": "Offer", "code": "offer", "channel": "email", "message_type": "marketing",
        "receiver_type": "email", "track_clicks": True,
        "content": {"subject": "Hi {$name}",
                    "text": "Hello {$name}, see https://example.com/offer",
                    "html": "<p>Hello {$name}, <a href=\"https://example.com/offer\">see</a></p>"},
    })  # fmt: skip
    ok("template 'offer' (marketing, click tracking) created")

    sent = api("POST", "/api/v1/send", key, {"template": "offer", "priority": "high",
               "receivers": ["ada@example.com"], "variables": {"name": "Ada"}})  # fmt: skip
    message_id = sent["messages"][0]["message_id"]
    ok(f"POST /api/v1/send accepted message {message_id}")

    def delivered():
        detail = api("GET", f"/api/v1/messages/{message_id}", key)
        return detail if detail["state"] in FINAL else None

    detail = wait("the API message to be sent", delivered)
    if detail["state"] not in ("SENT", "DELIVERED"):
        raise SystemExit(f"FAIL message ended {detail['state']}: {detail.get('error')}")
    ok(f"message {message_id} is {detail['state']} (worker-high consumed email.high)")

    content = detail["content"]
    text = content["text"]
    click = next((w for w in text.split() if "/t/" in w), "")
    if not click.startswith(PUBLIC_URL + "/t/"):
        raise SystemExit(f"FAIL click link {click!r} does not start with {PUBLIC_URL}/t/")
    ok(f"click link uses the public URL: {click}")
    unsubscribe = content.get("headers", {}).get("List-Unsubscribe", "").strip("<>")
    if not unsubscribe.startswith(PUBLIC_URL + "/"):
        raise SystemExit(f"FAIL unsubscribe link {unsubscribe!r} does not start with {PUBLIC_URL}/")
    ok(f"unsubscribe link uses the public URL: {unsubscribe}")

    # Follow both through web (the public URL's host is not served here: same path on web).
    status, headers, _ = call("GET", WEB + click[len(PUBLIC_URL) :])
    if status not in (301, 302) or headers.get("Location") != "https://example.com/offer":
        raise SystemExit(f"FAIL click link answered {status} {headers.get('Location')}")
    ok(f"click link redirects to {headers.get('Location')}")
    status, _, page = call("GET", WEB + unsubscribe[len(PUBLIC_URL) :])
    if status != 200 or b"Unsubscribe" not in page:
        raise SystemExit(f"FAIL unsubscribe page answered {status}")
    ok("unsubscribe link shows its confirmation page")

    campaign = api("POST", "/api/v1/campaigns/", key,
                   {"name": "Smoke campaign", "template": "offer", "audience": {"type": "file"}})  # fmt: skip
    rows = 50
    csv = "receiver,name\n" + "".join(f"user{i}@example.com,User {i}\n" for i in range(rows))
    body, content_type = multipart("file", "crowd.csv", csv.encode())
    api(
        "POST", f"/api/v1/campaigns/{campaign['id']}/audience", key, body, content_type=content_type
    )
    ok(f"campaign {campaign['id']}: crowd CSV of {rows} rows uploaded through the API (web)")
    api("POST", f"/api/v1/campaigns/{campaign['id']}/submit", key)
    api("POST", f"/api/v1/campaigns/{campaign['id']}/start", key)

    def finished():
        data = api("GET", f"/api/v1/campaigns/{campaign['id']}", key)
        return data if data["status"] in ("completed", "failed", "cancelled") else None

    data = wait("the campaign to complete", finished, timeout=180)
    if data["status"] != "completed":
        raise SystemExit(f"FAIL campaign ended {data['status']}: {json.dumps(data)[:800]}")
    ok("campaign run completed (worker-campaigns read the crowd file web stored)")

    def all_sent():
        data = api("GET", f"/api/v1/campaigns/{campaign['id']}", key)
        progress = data.get("progress") or {}
        return data if progress.get("sent", 0) >= rows else None

    wait("the campaign's messages to be sent", all_sent, timeout=180, interval=2)
    ok(f"all {rows} campaign messages sent (worker-low consumed email.low)")

    def histogram():
        query = urllib.parse.urlencode(
            {"query": "sum by (provider) (tidings_provider_call_seconds_count)"}
        )
        status, _, raw = call("GET", f"{PROMETHEUS}/api/v1/query?{query}")
        if status != 200:
            return None
        result = json.loads(raw)["data"]["result"]
        # The API message (worker-high) and the campaign's (worker-low): two processes.
        return result if sum(float(r["value"][1]) for r in result) >= 2 else None

    result = wait("the latency histogram in Prometheus", histogram, timeout=120, interval=3)
    ok("Prometheus has the workers' latency histogram: "
       + ", ".join(f"{r['metric'].get('provider')}={r['value'][1]} calls" for r in result))  # fmt: skip
    query = urllib.parse.urlencode({"query": 'up{job="tidings"}'})
    status, _, raw = call("GET", f"{PROMETHEUS}/api/v1/query?{query}")
    up = json.loads(raw)["data"]["result"]
    if not up or up[0]["value"][1] != "1":
        raise SystemExit(f"FAIL Prometheus target not up: {up}")
    ok("Prometheus scrapes web's /metrics with the bearer token (up == 1)")

    def flower_workers():
        status, _, raw = call("GET", f"{FLOWER}/metrics")
        if status != 200:
            return None
        online = re.findall(r'^flower_worker_online\{worker="([^"]+)"\} 1\.0$', raw.decode(), re.M)
        return sorted(online) if len(online) >= 5 else None

    workers = wait("Flower to see the five workers", flower_workers, timeout=120, interval=3)
    ok(f"Flower sees the workers online: {', '.join(workers)}")


class SlowReceiver(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # no delayed-ACK stall: see fakes_http.py
    """A webhook receiver that takes SLOW_HOOK_SECONDS per call and counts the calls."""

    calls: Counter = Counter()
    arrived = threading.Event()

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        SlowReceiver.calls[self.headers.get("Idempotency-Key", "")] += 1
        SlowReceiver.arrived.set()
        time.sleep(SLOW_HOOK_SECONDS)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):
        pass


def graceful_stop(key: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", SLOW_HOOK_PORT), SlowReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api("POST", "/api/v1/channel-accounts/", key, {"name": "slow-hook", "channel": "webhook",
        "provider": "webhook", "config": {"url": f"http://127.0.0.1:{SLOW_HOOK_PORT}/hook"}})  # fmt: skip
    api("POST", "/api/v1/templates/", key, {"name": "Hook", "code": "hook", "channel": "webhook",
        "receiver_type": "user_id", "content": {"text": "hello {$name}"}})  # fmt: skip
    sent = api("POST", "/api/v1/send", key, {"template": "hook", "priority": "high",
               "receivers": ["u1"], "variables": {"name": "U"}})  # fmt: skip
    message_id = sent["messages"][0]["message_id"]
    if not SlowReceiver.arrived.wait(120):
        raise SystemExit("FAIL the slow provider call never arrived")
    started = time.monotonic()
    subprocess.run([*shlex.split(os.environ["SMOKE_COMPOSE"]), "stop", "-t", "120", "worker-high"],  # noqa: S603
                   check=True, capture_output=True)  # fmt: skip
    waited = time.monotonic() - started
    state = api("GET", f"/api/v1/messages/{message_id}", key)["state"]
    if state != "SENT" or SlowReceiver.calls[message_id] != 1:
        raise SystemExit(f"FAIL after the stop: {state}, {SlowReceiver.calls[message_id]} calls")
    ok(f"SIGTERM mid-call: worker-high waited {waited:.1f} s for the {SLOW_HOOK_SECONDS} s provider "
       "call, the message is SENT, the provider saw it once")  # fmt: skip
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
    graceful_stop(sys.argv[1])
