"""The channels Tidings speaks. A channel names a queue lane; providers implement channels."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"
    WECHAT_OA = "wechat_oa", "WeChat official account"
    WECHAT_MP = "wechat_mp", "WeChat mini program"
    ALIPAY_MP = "alipay_mp", "Alipay mini program"
    WECOM = "wecom", "WeCom"
    DINGTALK = "dingtalk", "DingTalk"
    FEISHU = "feishu", "Feishu / Lark"
    PUSH = "push", "App push"
    SLACK = "slack", "Slack"
    TELEGRAM = "telegram", "Telegram"
    INBOX = "inbox", "In-app inbox"
    OTHER = "other", "Other (Apprise)"
