"""Topics: named subjects users subscribe to (through the profile API); a send or a
campaign to a topic goes to its subscribers."""

from __future__ import annotations

from django.db import models

__all__ = ["Topic", "TopicSubscription"]


class Topic(models.Model):
    app = models.ForeignKey("notify.App", on_delete=models.CASCADE, related_name="topics")
    code = models.SlugField(max_length=100, help_text="Unique per App; sends name it.")
    name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "code"], name="uniq_topic_code")]

    def __str__(self) -> str:
        return self.code


class TopicSubscription(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="subscriptions")
    profile = models.ForeignKey(
        "notify.UserProfile", on_delete=models.CASCADE, related_name="topic_subscriptions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["topic", "profile"], name="uniq_topic_subscription")
        ]

    def __str__(self) -> str:
        return f"{self.profile} -> {self.topic}"
