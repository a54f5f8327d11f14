"""Fake DingTalk work-notice API: /gettoken, asyncsend_v2 (JSON, userid_list at most 5000,
per-type msg checks), recall, and the send-state queries getsendprogress / getsendresult
(per receiver: unread unless listed in `read` or `failed`), in DingTalk's shapes (HTTP 200 +
errcode)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from typing import Any

from channels_app.providers.fakes_errors import ding_err
from channels_app.providers.fakes_http import Recorded, Reply

REQUIRED = {
    "text": ("content",),
    "markdown": ("title", "text"),
    "link": ("messageUrl", "picUrl", "title", "text"),
    "action_card": ("title", "markdown"),
    "oa": ("message_url", "body"),
}


class FakeDingTalkWork:
    def __init__(
        self,
        appkey: str = "ding-test",
        appsecret: str = "ding-secret",
        agent_id: int = 123456,
        *,
        quota: int | None = None,
    ):
        self.appkey, self.appsecret, self.agent_id = appkey, appsecret, agent_id
        self.quota = quota  # accepted sends before 90002
        self.tokens: dict[str, float] = {}
        self.token_calls = 0
        self.accepted: list[dict[str, Any]] = []
        self.recalled: list[int] = []
        self.task_ids: set[int] = set()
        self.task_users: dict[int, list[str]] = {}
        self.read: set[str] = set()  # userids that have read their notices
        self.failed: dict[str, str] = {}  # userid -> the send_result list it lands in
        self.in_progress: set[int] = set()  # tasks getsendprogress reports as still sending
        self.queried: list[tuple[str, int]] = []  # (progress|result, task_id)
        self.faults: list[Reply] = []
        self.delay = 0.0
        self._ids = itertools.count(700000000001)
        self._lock = threading.Lock()

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def __call__(self, request: Recorded) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if request.method == "GET" and request.path == "/gettoken":
                return self._gettoken(request)
            base = "/topapi/message/corpconversation/"
            if request.method == "POST" and request.path == base + "asyncsend_v2":
                return self._authed(request) or self._send(request.json)
            if request.method == "POST" and request.path == base + "recall":
                return self._authed(request) or self._recall(request.json)
            if request.method == "POST" and request.path == base + "getsendprogress":
                return self._authed(request) or self._progress(request.json)
            if request.method == "POST" and request.path == base + "getsendresult":
                return self._authed(request) or self._result(request.json)
            return Reply(status=404, body={"errcode": 404, "errmsg": "not found"})

    def _gettoken(self, request: Recorded) -> Reply:
        if request.query.get("appkey") != [self.appkey] or request.query.get("appsecret") != [
            self.appsecret
        ]:
            return ding_err(40089, "不合法的corpId或corpSecret")
        self.token_calls += 1
        token = f"ding-token-{uuid.uuid4().hex}"
        self.tokens[token] = time.time() + 7200
        return Reply(body={"errcode": 0, "access_token": token, "errmsg": "ok", "expires_in": 7200})

    def _authed(self, request: Recorded) -> Reply | None:
        token = (request.query.get("access_token") or [""])[0]
        # DingTalk answers a missing, unknown or expired token alike.
        if token not in self.tokens or self.tokens[token] < time.time():
            return ding_err(40014, "不合法的access_token")
        if self.faults:
            return self.faults.pop(0)
        try:
            body = request.json
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return ding_err(40035, "缺少参数 json")
        return None

    def _send(self, body: dict[str, Any]) -> Reply:
        if body.get("agent_id") != self.agent_id:
            return ding_err(40035, "缺少参数 agent_id")
        users = [user for user in str(body.get("userid_list") or "").split(",") if user]
        if not users:
            return ding_err(40035, "缺少参数 userid_list")
        if len(users) > 5000:
            return ding_err(40035, "userid_list 超过5000")
        msg = body.get("msg")
        msgtype = msg.get("msgtype") if isinstance(msg, dict) else None
        if msgtype not in REQUIRED or not isinstance(msg.get(msgtype), dict):
            return ding_err(40035, "缺少参数 msg.msgtype")
        for name in REQUIRED[msgtype]:
            if not msg[msgtype].get(name):
                return ding_err(40035, f"缺少参数 {msgtype}.{name}")
        card = msg.get("action_card") or {}
        if msgtype == "action_card" and not (
            (card.get("single_title") and card.get("single_url")) or card.get("btn_json_list")
        ):
            return ding_err(40035, "缺少参数 action_card.single_url")
        if self.quota is not None and len(self.accepted) >= self.quota:
            return ding_err(90002, "您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了")
        task_id = next(self._ids)
        self.task_ids.add(task_id)
        self.task_users[task_id] = users
        self.accepted.append(body)
        return Reply(
            body={
                "errcode": 0,
                "errmsg": "ok",
                "task_id": task_id,
                "request_id": uuid.uuid4().hex[:12],
            }
        )

    def _recall(self, body: dict[str, Any]) -> Reply:
        if body.get("agent_id") != self.agent_id:
            return ding_err(40035, "缺少参数 agent_id")
        task = str(body.get("msg_task_id") or "")
        if not task.isdigit() or int(task) not in self.task_ids or int(task) in self.recalled:
            return ding_err(40035, "无效的msg_task_id")
        self.recalled.append(int(task))
        return Reply(body={"errcode": 0, "errmsg": "ok"})

    def _task(self, body: dict[str, Any]) -> int | Reply:
        if body.get("agent_id") != self.agent_id:
            return ding_err(40035, "缺少参数 agent_id")
        task = body.get("task_id")
        if not isinstance(task, int) or task not in self.task_users:
            return ding_err(40035, "无效的task_id")
        return task

    def _progress(self, body: dict[str, Any]) -> Reply:
        task = self._task(body)
        if isinstance(task, Reply):
            return task
        self.queried.append(("progress", task))
        done = task not in self.in_progress
        progress = {"progress_in_percent": 100 if done else 40, "status": 2 if done else 1}
        return Reply(body={"errcode": 0, "errmsg": "ok", "progress": progress})

    def _result(self, body: dict[str, Any]) -> Reply:
        task = self._task(body)
        if isinstance(task, Reply):
            return task
        self.queried.append(("result", task))
        lists: dict[str, list[Any]] = {
            name: []
            for name in ("invalid_user_id_list", "forbidden_user_id_list", "failed_user_id_list",
                         "read_user_id_list", "unread_user_id_list", "forbidden_list")
        }  # fmt: skip
        for user in self.task_users[task]:
            name = self.failed.get(user) or (
                "read_user_id_list" if user in self.read else "unread_user_id_list"
            )
            lists[name].append(user)
            if name == "forbidden_user_id_list":
                lists["forbidden_list"].append({"code": "143106", "count": 1, "userid": user})
        return Reply(body={"errcode": 0, "errmsg": "ok", "send_result": lists})
