"""Provider name -> adapter class. Adding a provider is a folder plus one line here."""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

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
    "fcm": "channels_app.providers.fcm.adapter.FcmAdapter",
    "apns": "channels_app.providers.apns.adapter.ApnsAdapter",
    "getui": "channels_app.providers.getui.adapter.GetuiAdapter",
    "slack": "channels_app.providers.slack.adapter.SlackAdapter",
    "telegram": "channels_app.providers.telegram.adapter.TelegramAdapter",
    "apprise": "channels_app.providers.apprise.adapter.AppriseAdapter",
    "inbox": "channels_app.providers.inbox.adapter.InboxAdapter",
}


class UnknownProvider(LookupError):
    pass


@cache
def get_adapter_class(provider: str) -> type[ProviderAdapter]:
    try:
        path = PROVIDERS[provider]
    except KeyError:
        raise UnknownProvider(provider) from None
    return import_string(path)


def provider_choices() -> list[tuple[str, str]]:
    return [(name, get_adapter_class(name).label) for name in PROVIDERS]


def providers_for_channel(channel: str) -> list[str]:
    return [name for name in PROVIDERS if channel in get_adapter_class(name).channels]
