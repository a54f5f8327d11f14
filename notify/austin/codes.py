"""austin's response codes (its RespStatusEnum), the ones Tidings answers with."""

from __future__ import annotations

from enum import Enum


class Resp(Enum):
    # (code, austin's default message)
    SUCCESS = ("0", "操作成功")
    FAIL = ("-1", "操作失败")
    ERROR_500 = ("500", "服务器未知错误")
    CLIENT_BAD_PARAMETERS = ("A0001", "客户端参数错误")
    TEMPLATE_NOT_FOUND = ("A0002", "找不到模板或模板已被删除")
    TOO_MANY_RECEIVER = ("A0003", "传入的接收者大于100个")
    NO_LOGIN = ("A0005", "还未登录，请先登录")
    SERVICE_ERROR = ("B0001", "服务执行异常")
    BUSINESS_CODE_IS_NULL = ("P0002", "业务代码为空")
    PROCESS_TEMPLATE_IS_NULL = ("P0003", "流程模板配置为空")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def msg(self) -> str:
        return self.value[1]


class AustinError(Exception):
    """Stops a call with austin's code; `detail` says what exactly was wrong."""

    def __init__(self, resp: Resp, detail: str = ""):
        super().__init__(detail or resp.msg)
        self.resp = resp
        self.detail = detail

    def body(self) -> dict:
        msg = f"{self.resp.msg}: {self.detail}" if self.detail else self.resp.msg
        return {"code": self.resp.code, "msg": msg, "data": None}


# austin's limit on the comma-separated receivers of one messageParam.
MAX_RECEIVERS_PER_PARAM = 100
