"""User profiles (external user id -> channel addresses, time zone) and opt-outs."""

from __future__ import annotations

from django.db import models

__all__ = ["DeadPushToken", "OptOut", "UserProfile", "PROFILE_CHANNEL_FIELDS"]

# Which profile field holds the receiver for a channel; channels not listed use
# `channel_ids[channel]`, and webhook/inbox fall back to the external id itself.
PROFILE_CHANNEL_FIELDS: dict[str, str] = {
    "email": "email",
    "sms": "phone",
    "wechat_oa": "wechat_open_id",
    "wechat_mp": "wechat_mp_open_id",
    "wecom": "wecom_user_id",
    "dingtalk": "dingtalk_user_id",
    "feishu": "feishu_user_id",
    "push": "push_token",
}


class UserProfile(models.Model):
    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="profiles")
    external_id = models.CharField(max_length=128, help_text="The caller's user id.")
    email = models.CharField(max_length=320, blank=True, default="")
    phone = models.CharField(max_length=32, blank=True, default="")
    wechat_open_id = models.CharField(max_length=128, blank=True, default="")
    wechat_mp_open_id = models.CharField(max_length=128, blank=True, default="")
    wecom_user_id = models.CharField(max_length=128, blank=True, default="")
    dingtalk_user_id = models.CharField(max_length=128, blank=True, default="")
    feishu_user_id = models.CharField(max_length=128, blank=True, default="")
    push_token = models.CharField(max_length=512, blank=True, default="")
    channel_ids = models.JSONField(
        default=dict, blank=True, help_text='Other channels, e.g. {"slack": "U123"}.'
    )
    time_zone = models.CharField(max_length=64, blank=True, default="")
    locale = models.CharField(
        max_length=35,
        blank=True,
        default="",
        help_text="BCP 47 language tag (zh-CN, en-GB…): picks the template's locale variant.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "external_id"], name="uniq_profile_per_app")
        ]
        indexes = [
            models.Index(fields=["app", "email"], name="profile_app_email"),
            models.Index(fields=["app", "phone"], name="profile_app_phone"),
        ]

    def __str__(self) -> str:
        return self.external_id

    def address_for(self, channel: str) -> str:
        field = PROFILE_CHANNEL_FIELDS.get(channel)
        if field:
            return getattr(self, field)
        value = (self.channel_ids or {}).get(channel)
        if value:
            return str(value)
        return self.external_id if channel in ("webhook", "inbox") else ""


class OptOut(models.Model):
    """A receiver does not want this message type on this channel. Kept by address, so the
    delivery rule can check a whole batch in one query; `profile` ties it to a user whose
    address may change (the profile service re-points it)."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="opt_outs")
    channel = models.CharField(max_length=30)
    receiver = models.CharField(max_length=512)
    message_type = models.CharField(max_length=20)
    profile = models.ForeignKey(
        UserProfile, on_delete=models.CASCADE, null=True, blank=True, related_name="opt_outs"
    )
    source = models.CharField(max_length=20, default="api", help_text="api, link or admin.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "channel", "receiver", "message_type"], name="uniq_opt_out"
            )
        ]

    def __str__(self) -> str:
        return f"{self.receiver} opted out of {self.message_type} on {self.channel}"


class DeadPushToken(models.Model):
    """A device token the push provider said will never work again (FCM UNREGISTERED or
    invalid, APNs 410/BadDeviceToken). Kept by token, whether or not a profile holds it, so
    the dead-token rule checks a whole batch in one query; a profile that registers the
    token anew (profile upsert) revives it."""

    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="dead_tokens")
    token = models.CharField(max_length=512)
    # The profile whose push_token it was when it died, if any (shown on the profile).
    profile = models.ForeignKey(
        UserProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dead_push_tokens",
    )
    provider = models.CharField(max_length=40)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "token"], name="uniq_dead_push_token")
        ]

    def __str__(self) -> str:
        return f"dead push token ({self.provider}): {self.reason}"
