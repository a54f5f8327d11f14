"""Error answers shared by the fakes of one vendor's providers (DingTalk work notices and
robots, WeCom apps and robots): the vendor's shapes, HTTP 200 + errcode."""

from __future__ import annotations

import time
import uuid
from typing import Any

from channels_app.providers.fakes_http import Reply


def ding_err(code: int, msg: str) -> Reply:
    return Reply(body={"errcode": code, "errmsg": msg, "request_id": uuid.uuid4().hex[:12]})


def wecom_err(code: int, msg: str) -> Reply:
    return Reply(
        body={
            "errcode": code,
            "errmsg": f"{msg}, hint: [{int(time.time())}_abc], from ip: 127.0.0.1, "
            f"more info at https://open.work.weixin.qq.com/devtool/query?e={code}",
        }
    )


def check_msgtype(body: dict[str, Any], msgtypes: dict[str, tuple[str, ...]]) -> Reply | None:
    """WeCom's own checks of `{"msgtype": t, t: {...}}` (shared with the robot fake)."""
    msgtype = body.get("msgtype")
    if msgtype not in msgtypes:
        return wecom_err(40008, "invalid message type")
    inner = body.get(msgtype)
    if not isinstance(inner, dict):
        return wecom_err(40058, f"{msgtype} missing")
    for name in msgtypes[msgtype]:
        if not inner.get(name):
            return wecom_err(44004 if name == "content" else 40058, f"empty {msgtype}.{name}")
    if msgtype in ("text", "markdown") and len(inner["content"].encode()) > 4096:
        return wecom_err(45002, "content size out of limit")
    if msgtype == "news":
        articles = inner["articles"]
        if not 1 <= len(articles) <= 8 or not all(a.get("title") for a in articles):
            return wecom_err(40058, "invalid articles")
    return None
