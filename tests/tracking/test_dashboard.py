"""The admin dashboard: same numbers as the stats API, and charts really drawn in headless
Chromium (served by a real HTTP server with the vendored Chart.js, no CDN)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test import Client

CHROMIUM = "/usr/bin/chromium"


def _staff_client():
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_dashboard_shows_the_stats_api_numbers(api, ding, send):
    send("ding", ["u1", "u2"])
    client = _staff_client()

    page = client.get("/admin/tidings/dashboard/", {"template": "ding"})

    assert page.status_code == 200
    data = json.loads(
        re.search(
            r'<script id="dashboard-data" type="application/json">(.*?)</script>',
            page.content.decode(),
            re.S,
        )[1]
    )
    assert data["totals"] == api.get("/api/v1/stats", {"template": "ding"}).json()["totals"]
    assert data["funnel_totals"]["ding"]["SENT"] == 2
    assert "cdn" not in page.content.decode().lower()
    assert Client().get("/admin/tidings/dashboard/").status_code == 302  # staff only


class _Server:
    """A real threaded HTTP server for the app; every request carries the staff session
    cookie (headless Chromium cannot log in through a form from the command line)."""

    def __init__(self, cookie: str, wrap=None):
        """`wrap`: a WSGI middleware put around the app (extra test pages, headers)."""
        app = StaticFilesHandler(WSGIHandler())

        def with_session(environ, start_response):
            environ["HTTP_COOKIE"] = cookie
            return app(environ, start_response)

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        self.httpd = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
        self.httpd.set_app(wrap(with_session) if wrap else with_session)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _chromium(args: list[str], profile: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--window-size=1400,1600", *args]  # fmt: skip
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
    try:
        out, err = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()  # only the process this test started
        out, err = process.communicate()
    return subprocess.CompletedProcess(cmd, process.returncode, out, err)


def _png_colours(path: str) -> int:
    """Distinct colours in an 8-bit RGB(A) PNG (stdlib only: inflate and unfilter)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    previous, colours = bytearray(stride), set()
    for y in range(height):
        row = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        kind = raw[y * (stride + 1)]
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up, up_left = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + left) & 255
            elif kind == 2:
                row[i] = (row[i] + up) & 255
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                row[i] = (row[i] + pred) & 255
        for i in range(0, stride, bpp * 4):
            colours.add(bytes(row[i : i + 3]))
        previous = row
    return len(colours)


# Skipped on a developer machine without Chromium; in CI (.ci/run installs it) a missing
# browser must fail, not skip.
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
    reason="Chromium is not installed",
)
def test_charts_render_in_headless_chromium(transactional_db, api, ding, send):
    send("ding", ["u1", "u2", "u3"])
    from channels_app.providers.fakes_errors import ding_err

    ding.faults.append(ding_err(40035, "缺少参数 agent_id"))
    send("ding", ["u4"])
    client = _staff_client()
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    server = _Server(cookie)
    profile = tempfile.mkdtemp(prefix="tidings-chromium-")
    try:
        url = f"{server.url}/admin/tidings/dashboard/"
        dom = _chromium(["--dump-dom", url], profile).stdout
        shot = os.path.join(profile, "dashboard.png")
        _chromium([f"--screenshot={shot}", url], profile)
    finally:
        server.stop()
    try:
        check = re.search(r'id="chart-check"[^>]*', dom)
        assert check, dom[-2000:]
        assert 'data-status="rendered"' in check[0]
        painted = dict(
            (name, int(count))
            for name, count in re.findall(
                r"([\w-]+)=(\d+)", re.search(r'data-painted="([^"]*)"', check[0])[1]
            )
        )
        assert set(painted) == {"funnel-chart", "series-chart", "failure-chart"}
        assert all(count > 2000 for count in painted.values()), painted
        assert 'data-state="SENT"><strong>SENT</strong> 3' in dom
        # the screenshot is a real picture, not a blank page: chart colours are in it
        assert _png_colours(shot) > 20
    finally:
        shutil.rmtree(profile, ignore_errors=True)
