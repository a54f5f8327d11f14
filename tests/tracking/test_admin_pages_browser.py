"""The template and message admin pages in headless Chromium (as the dashboard test): the
template page has a channel select, pretty-printed JSON and the preview; the message page
shows its trace to the millisecond and no Delete. Screenshots are kept and their paths
printed (var/screenshots/, or TIDINGS_SCREENSHOT_DIR)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import pytest

from templates_app.models import MessageTemplate
from tests.tracking.test_dashboard import (
    CHROMIUM,
    _chromium,
    _png_colours,
    _Server,
    _staff_client,
)
from tracking.models import Message

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOTS = os.environ.get("TIDINGS_SCREENSHOT_DIR") or os.path.join(ROOT, "var", "screenshots")


@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
    reason="Chromium is not installed",
)
def test_template_and_message_admin_pages_in_headless_chromium(transactional_db, api, ding, send):
    template = MessageTemplate.objects.get(code="ding")
    template.content = {"msgtype": "text", "content": "你好 {$name}，订单 {$order} 已发货"}
    template.save()
    message = Message.objects.get(message_id=send("ding", ["u1"], name="Ada", order="42")[0])
    client = _staff_client()
    server = _Server(f"sessionid={client.cookies['sessionid'].value}")
    profile = tempfile.mkdtemp(prefix="tidings-chromium-")
    os.makedirs(SHOTS, exist_ok=True)
    pages = {
        "template": f"/admin/templates_app/messagetemplate/{template.pk}/change/",
        "message": f"/admin/tracking/message/{message.pk}/change/",
    }
    doms, shots = {}, {}
    try:
        for name, path in pages.items():
            doms[name] = _chromium(["--dump-dom", server.url + path], profile).stdout
            shots[name] = os.path.join(SHOTS, f"admin-{name}-page.png")
            _chromium([f"--screenshot={shots[name]}", server.url + path], profile)
            # The path is printed for the reviewer (pytest -s or -rP shows it).
            print(f"screenshot of the {name} admin page: {shots[name]}")  # noqa: T201
    finally:
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)

    page = doms["template"]
    assert re.search(r'<select name="channel"[^>]*>', page), page[-3000:]
    assert re.search(r'<option value="dingtalk" selected', page)
    assert re.search(r'<select name="channel_account"', page)
    textarea = re.search(r'<textarea name="content".*?</textarea>', page, re.S)[0]
    assert '\n  "content": "你好 {$name}，订单 {$order} 已发货"' in textarea.replace("&quot;", '"')
    assert "tidings-rendered" in page and "你好 &lt;name&gt;，订单 &lt;order&gt; 已发货" in page
    assert "Send a test" in page

    page = doms["message"]
    stamps = re.findall(r'class="trace-at">(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})<', page)
    assert len(stamps) == 4, page[-3000:]
    assert len(re.findall(r'class="trace-step">\+\d+ ms<', page)) == 3
    assert "deletelink" not in page and "Claim token" not in page

    for shot in shots.values():
        assert _png_colours(shot) > 10  # a drawn page, not a blank one
