"""Headless Chromium with the network unplugged (every host but 127.0.0.1 unresolvable):
Swagger UI and ReDoc come from our own static files and list the endpoints; the account
admin page shows the fixes of issue 16. Screenshots go to the test's tmp dir (path printed)."""

from __future__ import annotations

import os
import re
import tempfile
from urllib.parse import parse_qs

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from channels_app.models import ChannelAccount
from tests.tracking.test_dashboard import CHROMIUM, _chromium, _Server

OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
    reason="Chromium is not installed",
)


# Served at /__measure__?path=...: loads an admin list page in a same-origin 1400 px wide
# frame and writes how wide its results table is against its box, and where the last
# column header ends against the window.
MEASURE = """<!doctype html><meta charset="utf-8"><body style="margin:0">
<iframe id="f" style="width:1400px;height:1000px;border:0" src="%s"></iframe>
<div id="out">pending</div><script>
document.getElementById("f").onload = function () {
  const d = this.contentDocument, box = d.querySelector("#changelist-form .results");
  const heads = d.querySelectorAll("#result_list thead th");
  const last = heads[heads.length - 1].getBoundingClientRect();
  document.getElementById("out").textContent = "scroll=" + box.scrollWidth +
    " client=" + box.clientWidth + " last_right=" + Math.round(last.right) +
    " window=" + d.documentElement.clientWidth;
};
</script>"""


def _measuring(app):
    """The /__measure__ page above, and admin pages made framable by it (same origin)."""

    def wsgi(environ, start_response):
        if environ["PATH_INFO"] == "/__measure__":
            path = parse_qs(environ["QUERY_STRING"])["path"][0]
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [(MEASURE % path).encode()]

        def framable(status, headers, *exc_info):
            headers = [(k, v) for k, v in headers if k.lower() != "x-frame-options"]
            return start_response(status, headers, *exc_info)

        return app(environ, framable)

    return wsgi


def _measure(server: _Server, path: str) -> dict[str, int]:
    profile = tempfile.mkdtemp(prefix="tidings-chromium-")
    dom = _chromium([*OFFLINE, "--dump-dom", f"{server.url}/__measure__?path={path}"], profile)
    found = re.search(r'<div id="out">(.*?)</div>', dom.stdout)[1]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", found)}


def _browse(url: str, shot: str) -> str:
    profile = tempfile.mkdtemp(prefix="tidings-chromium-")
    dom = _chromium([*OFFLINE, "--dump-dom", url], profile).stdout
    _chromium([*OFFLINE, f"--screenshot={shot}", url], profile)
    print(f"screenshot: {shot}")  # noqa: T201 - attached to the test output
    return dom


@pytest.fixture
def staff_server(transactional_db):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    server = _Server(f"sessionid={client.cookies['sessionid'].value}", wrap=_measuring)
    yield server
    server.stop()


def test_swagger_ui_and_redoc_work_offline(staff_server, tmp_path):
    swagger = _browse(f"{staff_server.url}/api/docs/", str(tmp_path / "swagger.png"))
    redoc = _browse(f"{staff_server.url}/api/redoc/", str(tmp_path / "redoc.png"))

    assert "cdn" not in swagger.lower()
    # Swagger UI rendered the schema: one block per operation, with its path.
    assert len(re.findall(r'class="opblock opblock-', swagger)) > 20, swagger[-2000:]
    assert "/api/v1/send" in swagger
    assert "Tidings API" in redoc and "/api/v1/send" in redoc, redoc[-2000:]
    assert os.path.getsize(tmp_path / "swagger.png") > 10_000


def test_account_admin_page_in_chromium(staff_server, tmp_path, tenant):
    account = ChannelAccount.objects.create(
        app=tenant, name="沙盒邮件", channel="email", provider="sandbox"
    )
    change = _browse(
        f"{staff_server.url}/admin/channels_app/channelaccount/{account.pk}/change/",
        str(tmp_path / "account.png"),
    )
    add = _browse(
        f"{staff_server.url}/admin/channels_app/channelaccount/add/",
        str(tmp_path / "account-add.png"),
    )
    listing = _browse(
        f"{staff_server.url}/admin/channels_app/channelaccount/", str(tmp_path / "accounts.png")
    )

    assert change.count("field-provider") == 1
    assert "Reject receivers:" in change and "Cfg " not in change
    assert "沙盒邮件" in change  # UTF-8 end to end
    assert "Tidings administration" in change
    title = re.search(r"<title>(.*?)</title>", add, re.S)[1]
    assert "<" not in title and "&lt;" not in title
    assert re.search(r'<textarea name="config"[^>]*>\s*\{\}\s*</textarea>', add)
    # the list's last column ("last error") is laid out, not cut off
    assert "column-short_last_error" in listing


def test_list_pages_show_their_last_column_at_1400px(staff_server, api, email_template, broker):
    receivers = [f"someone.with.a.long.address{i}@example-company.example.com" for i in range(3)]
    sent = api.post(
        "/api/v1/send",
        {"template": "welcome", "receivers": receivers, "variables": {"name": "x", "code": "y"}},
        format="json",
    )
    assert sent.status_code == 202

    for path in ("/admin/tracking/message/", "/admin/channels_app/channelaccount/"):
        box = _measure(staff_server, path)
        # the table fits its box (no hidden overflow) and its last header is on screen
        assert box["scroll"] <= box["client"], (path, box)
        assert box["last_right"] <= box["window"], (path, box)
