"""Provider name -> adapter class. Adding a provider is a folder plus one line here.

The folder `channels_app/providers/<kind>/` is the provider's package; generic machinery
finds its optional modules through `provider_module()`: `receipts` (push parsing and pull
polling), `docs` (its section of docs/channels.md) and `e2e` (its end-to-end case). Providers
outside this tree (a plugin package) are registered by `TIDINGS_EXTRA_PROVIDERS`
("kind=dotted.path.Adapter,...") or, in a test, by `register_provider()`."""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from django.conf import settings
from django.utils.module_loading import import_string

from channels_app.channels import Channel
from channels_app.providers.base import ProviderAdapter

PROVIDERS: dict[str, str] = {
    "sandbox": "channels_app.providers.sandbox.adapter.SandboxAdapter",
    "smtp": "channels_app.providers.smtp.adapter.SmtpAdapter",
    "webhook": "channels_app.providers.webhook.adapter.WebhookAdapter",
    "ses": "channels_app.providers.ses.adapter.SesAdapter",
    "sendgrid": "channels_app.providers.sendgrid.adapter.SendGridAdapter",
    "mailgun": "channels_app.providers.mailgun.adapter.MailgunAdapter",
    "postmark": "channels_app.providers.postmark.adapter.PostmarkAdapter",
    "brevo": "channels_app.providers.brevo.adapter.BrevoAdapter",
    "mailjet": "channels_app.providers.mailjet.adapter.MailjetAdapter",
    "mandrill": "channels_app.providers.mandrill.adapter.MandrillAdapter",
    "sparkpost": "channels_app.providers.sparkpost.adapter.SparkPostAdapter",
    "resend": "channels_app.providers.resend.adapter.ResendAdapter",
    "mailersend": "channels_app.providers.mailersend.adapter.MailerSendAdapter",
    "postal": "channels_app.providers.postal.adapter.PostalAdapter",
    "unisender_go": "channels_app.providers.unisender_go.adapter.UnisenderGoAdapter",
    "mailtrap": "channels_app.providers.mailtrap.adapter.MailtrapAdapter",
    "scaleway": "channels_app.providers.scaleway.adapter.ScalewayAdapter",
    "tencent_sms": "channels_app.providers.tencent_sms.adapter.TencentSmsAdapter",
    "aliyun_sms": "channels_app.providers.aliyun_sms.adapter.AliyunSmsAdapter",
    "yunpian_sms": "channels_app.providers.yunpian_sms.adapter.YunpianSmsAdapter",
    "twilio_sms": "channels_app.providers.twilio_sms.adapter.TwilioSmsAdapter",
    "wechat_oa": "channels_app.providers.wechat_oa.adapter.WeChatOAAdapter",
    "wechat_mp": "channels_app.providers.wechat_mp.adapter.WeChatMPAdapter",
    "alipay_mp": "channels_app.providers.alipay_mp.adapter.AlipayMPAdapter",
    "wecom_app": "channels_app.providers.wecom_app.adapter.WeComAppAdapter",
    "wecom_robot": "channels_app.providers.wecom_robot.adapter.WeComRobotAdapter",
    "dingtalk_work": "channels_app.providers.dingtalk_work.adapter.DingTalkWorkAdapter",
    "dingtalk_robot": "channels_app.providers.dingtalk_robot.adapter.DingTalkRobotAdapter",
    "feishu_bot": "channels_app.providers.feishu_bot.adapter.FeishuBotAdapter",
    "feishu_app": "channels_app.providers.feishu_app.adapter.FeishuAppAdapter",
    "fcm": "channels_app.providers.fcm.adapter.FcmAdapter",
    "apns": "channels_app.providers.apns.adapter.ApnsAdapter",
    "getui": "channels_app.providers.getui.adapter.GetuiAdapter",
    "slack": "channels_app.providers.slack.adapter.SlackAdapter",
    "telegram": "channels_app.providers.telegram.adapter.TelegramAdapter",
    "apprise": "channels_app.providers.apprise.adapter.AppriseAdapter",
    "inbox": "channels_app.providers.inbox.adapter.InboxAdapter",
}
PROVIDERS.update(getattr(settings, "TIDINGS_EXTRA_PROVIDERS", {}))


class UnknownProvider(LookupError):
    pass


@cache
def get_adapter_class(provider: str) -> type[ProviderAdapter]:
    try:
        path = PROVIDERS[provider]
    except KeyError:
        raise UnknownProvider(provider) from None
    return import_string(path)


@cache
def provider_module(provider: str, name: str) -> ModuleType | None:
    """The provider folder's module `name` (receipts, docs, e2e), None when it has none."""
    package = get_adapter_class(provider).__module__.rpartition(".")[0]
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{package}.{name}":
            raise  # the module exists but imports something missing
        return None


def register_provider(provider: str, adapter_path: str) -> None:
    """Add (or replace) a provider at run time: what one registry line does."""
    PROVIDERS[provider] = adapter_path
    _clear()


def unregister_provider(provider: str) -> None:
    PROVIDERS.pop(provider, None)
    _clear()


def _clear() -> None:
    get_adapter_class.cache_clear()
    provider_module.cache_clear()


def registered_channels() -> list[str]:
    """Every channel: the channel list first (its order), then any channel only a registered
    provider declares (a new channel needs no edit outside its provider's folder)."""
    channels = list(Channel.values)
    for name in PROVIDERS:
        channels.extend(c for c in get_adapter_class(name).channels if c not in channels)
    return channels


def channel_choices() -> list[tuple[str, str]]:
    """(value, label) of every channel; a provider labels a new channel of its own with
    `channel_labels`. Callable choices: a new channel needs no migration."""
    labels = dict(Channel.choices)
    for name in PROVIDERS:
        labels.update(getattr(get_adapter_class(name), "channel_labels", {}))
    return [(channel, labels.get(channel, channel)) for channel in registered_channels()]


def provider_choices() -> list[tuple[str, str]]:
    return [(name, get_adapter_class(name).label) for name in PROVIDERS]


def providers_for_channel(channel: str) -> list[str]:
    return [name for name in PROVIDERS if channel in get_adapter_class(name).channels]
