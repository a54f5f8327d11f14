"""Campaigns (template + audience + schedule), user groups, held sends and their approvals."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from notify.models.core import App, Priority, SendRequest

__all__ = [
    "ApprovalRecord",
    "AudienceKind",
    "Campaign",
    "CampaignAudienceFile",
    "CampaignBatch",
    "CampaignRun",
    "CampaignSegment",
    "CampaignStatus",
    "HeldSend",
    "RunStatus",
    "ScheduleKind",
    "UserGroup",
    "UserGroupMember",
]


class UserGroup(models.Model):
    """A named set of user ids; members are sent to as `user:<id>` receivers."""

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="user_groups")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "name"], name="uniq_user_group_name")]

    def __str__(self) -> str:
        return self.name


class UserGroupMember(models.Model):
    group = models.ForeignKey(UserGroup, on_delete=models.CASCADE, related_name="members")
    user_id = models.CharField(max_length=128)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user_id"], name="uniq_user_group_member")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.user_id


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class AudienceKind(models.TextChoices):
    FILE = "file", "Uploaded crowd file"
    GROUP = "group", "User group"
    LIST = "list", "Explicit list"
    TOPIC = "topic", "Topic subscribers"


class ScheduleKind(models.TextChoices):
    NOW = "now", "Now"
    AT = "at", "At a time"
    CRON = "cron", "Cron expression"


class CampaignAudienceFile(models.Model):
    """An uploaded crowd CSV: a receiver column plus one column per template variable."""

    file = models.FileField(upload_to="campaigns/%Y/%m/")
    original_name = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    receiver_column = models.CharField(max_length=100)
    columns = models.JSONField(default=list)
    rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    # The first problems found by the upload scan: [{"line": n, "problem": "..."}].
    problems = models.JSONField(default=list, blank=True)
    # Where each segment after the first starts, found by the upload scan: [[byte offset,
    # lines before it], ...] every TIDINGS_CAMPAIGN_SEGMENT_ROWS rows. A run fans the
    # segments out in parallel (CampaignSegment).
    segments = models.JSONField(default=list, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name or self.file.name or ""


class Campaign(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    template = models.ForeignKey(
        "templates_app.MessageTemplate", on_delete=models.PROTECT, related_name="+"
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.LOW)
    # Shared by every receiver; a file's columns override them per row.
    variables = models.JSONField(default=dict, blank=True)
    audience_kind = models.CharField(max_length=10, choices=AudienceKind.choices)
    audience_file = models.OneToOneField(
        CampaignAudienceFile, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    audience_group = models.ForeignKey(
        UserGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    audience_topic = models.ForeignKey(
        "notify.Topic", on_delete=models.SET_NULL, null=True, blank=True, related_name="campaigns"
    )
    # The POST /send call (with an `audience`) this campaign fans out; its request_id is what
    # the caller got back, and finds the messages of every batch.
    origin_request = models.OneToOneField(
        SendRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="campaign"
    )
    # [{"receiver": ..., "variables": {...}}] for an explicit list.
    audience_list = models.JSONField(default=list, blank=True)
    schedule_kind = models.CharField(
        max_length=10, choices=ScheduleKind.choices, default=ScheduleKind.NOW
    )
    send_at = models.DateTimeField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True, default="")
    cron_timezone = models.CharField(max_length=64, blank=True, default="UTC")
    # The beat entry Tidings creates, changes and removes with the campaign.
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(
        max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # Who submitted: a staff user (admin) or the App (API); an approver must differ.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_error = models.TextField(blank=True, default="")
    # The audience size the approval covers (counted at submit): a run whose audience has
    # grown past it, and past the threshold, goes back to approval instead of sending.
    approved_audience = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["app", "-id"], name="campaign_app_id")]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class CampaignRun(models.Model):
    """One fan-out of a campaign (a cron campaign has one per firing) and its checkpoint."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    total = models.PositiveIntegerField(default=0)
    # Checkpoint of the last committed batch: batches done, rows read, and where the next
    # row starts: the byte offset in a file (with its physical line number), the last
    # member id of a group, the index in a list.
    batches_done = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    position = models.PositiveBigIntegerField(default=0)
    line_number = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # The first rejected rows: [{"line": n, "receiver": ..., "problem": ...}].
    problems = models.JSONField(default=list, blank=True)
    # The executing task renews its lease every batch; a stale lease means it died.
    owner = models.UUIDField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="uniq_campaign_run")
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.number}"


class CampaignBatch(models.Model):
    """One committed batch of a run: links the run to the send request it became."""

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    request = models.OneToOneField(
        SendRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="uniq_campaign_batch")
        ]

    def __str__(self) -> str:
        return f"{self.run} batch {self.number}"


class CampaignSegment(models.Model):
    """A byte range of a run's crowd file, fanned out by its own task with its own lease and
    checkpoint (the same fields as a run's), in parallel with the run's other segments.
    Its batches add their counts to the run, which finishes with its last segment."""

    run = models.ForeignKey(CampaignRun, on_delete=models.CASCADE, related_name="segments")
    number = models.PositiveIntegerField()
    # [start, end) in the file; end None: to the end of the file.
    end_position = models.PositiveBigIntegerField(null=True, blank=True)
    done = models.BooleanField(default=False)
    batches_done = models.PositiveIntegerField(default=0)
    position = models.PositiveBigIntegerField(default=0)
    line_number = models.PositiveIntegerField(default=0)
    owner = models.UUIDField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="uniq_campaign_segment")
        ]

    def __str__(self) -> str:
        return f"{self.run} segment {self.number}"


class HeldSend(models.Model):
    """An API send persisted as SCHEDULED: waiting for its send_at, or for an approval."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        RELEASED = "released", "Released"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"

    class Approval(models.TextChoices):
        NOT_REQUIRED = "not_required", "Not required"
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    request = models.OneToOneField(SendRequest, on_delete=models.CASCADE, related_name="hold")
    release_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    approval = models.CharField(
        max_length=15, choices=Approval.choices, default=Approval.NOT_REQUIRED
    )
    receivers = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "release_at"], name="held_send_due")]

    def __str__(self) -> str:
        return f"held {self.request}"


class ApprovalRecord(models.Model):
    """Audit of the four-eyes decisions: who submitted, approved or rejected what, and when."""

    class Action(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        AUTO_APPROVED = "auto_approved", "Approved (below threshold)"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        RESUBMITTED = "resubmitted", "Back to approval (audience grew)"

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="approvals"
    )
    held_send = models.ForeignKey(
        HeldSend, on_delete=models.CASCADE, null=True, blank=True, related_name="approvals"
    )
    action = models.CharField(max_length=15, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # "admin:<username>" or "app:<name>", kept when the user is deleted.
    actor = models.CharField(max_length=200)
    note = models.TextField(blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"
