"""Campaigns on real processes: a Celery worker (campaigns queue + lanes) and, for the cron
test, a real beat with the DatabaseScheduler, all on the test database and broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from channels_app.models import SandboxDelivery
from notify.brokers import broker_kind
from notify.campaigns.execution import campaign_runs_resume_stalled
from notify.models import Campaign, CampaignRun, CampaignSegment
from notify.queueing import lane
from notify.sweeper import messages_requeue_stuck
from tests.campaigns.conftest import create_campaign, crowd, upload
from tests.e2e.conftest import ROOT, wait_until
from tracking.models import Message

pytestmark = pytest.mark.e2e


def queues() -> str:
    return ",".join(
        [settings.TIDINGS_CAMPAIGN_QUEUE, lane("email", "low"), settings.TIDINGS_HOUSEKEEPING_QUEUE]
    )


def worker_env(media_root: str, **extra) -> dict:
    return {"DJANGO_MEDIA_ROOT": media_root, **extra}


def action(api, campaign_id: int, name: str) -> dict:
    response = api.post(f"/api/v1/campaigns/{campaign_id}/{name}", format="json")
    assert response.status_code == 200, response.content
    return response.json()


def run_of(campaign_id: int) -> CampaignRun | None:
    return CampaignRun.objects.filter(campaign_id=campaign_id).order_by("-number").first()


def deliveries() -> Counter:
    return Counter(SandboxDelivery.objects.values_list("receiver", flat=True))


@pytest.fixture
def start_beat(start_worker):
    processes: list[subprocess.Popen] = []
    db = connection.settings_dict

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONPATH": ROOT,
        }
        cmd = [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info",
               "-S", "django_celery_beat.schedulers:DatabaseScheduler"]  # fmt: skip
        process = subprocess.Popen(  # noqa: S603
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        log: list[str] = []
        threading.Thread(target=lambda: log.extend(process.stderr), daemon=True).start()
        process.log = log  # type: ignore[attr-defined]
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def test_a_cron_campaign_fires_from_beat_and_delivers(
    api,
    promo_template,
    start_worker,
    start_beat,
    media_root,
):
    campaign = create_campaign(
        api,
        schedule="cron",
        cron="* * * * *",
        audience={"type": "list", "receivers": ["a@example.com", "b@example.com"]},
        variables={"name": "n", "code": "c"},
    )
    action(api, campaign["id"], "submit")
    started = action(api, campaign["id"], "start")
    # Make the entry overdue so beat fires it on its first tick instead of the next minute.
    task = PeriodicTask.objects.get(name=started["schedule"]["periodic_task"])
    task.last_run_at = timezone.now() - timedelta(minutes=2)
    task.save()
    start_worker(queues(), **worker_env(media_root))
    beat = start_beat()

    fired = wait_until(
        lambda: (r := run_of(campaign["id"])) is not None and r.status == "completed", 60
    )

    assert fired, "".join(beat.log[-30:])
    assert wait_until(lambda: sum(deliveries().values()) == 2, 30)
    assert deliveries() == Counter({"a@example.com": 1, "b@example.com": 1})
    detail = api.get(f"/api/v1/campaigns/{campaign['id']}").json()
    assert detail["status"] == "scheduled"  # waits for its next firing
    assert detail["progress"]["sent"] == 2


def test_pause_stops_a_running_campaign_and_resume_finishes_it(
    api,
    promo_template,
    start_worker,
    media_root,
):
    campaign = create_campaign(api)
    assert upload(api, campaign["id"], crowd(200)).status_code == 201
    action(api, campaign["id"], "submit")
    start_worker(queues(), **worker_env(media_root, TIDINGS_CAMPAIGN_BATCH_SIZE=10,
                                        TIDINGS_CAMPAIGN_BATCH_DELAY_SECONDS=0.15))  # fmt: skip
    action(api, campaign["id"], "start")
    assert wait_until(lambda: (r := run_of(campaign["id"])) and r.rows_done >= 30, 30)

    action(api, campaign["id"], "pause")
    time.sleep(1.0)  # the batch in flight commits
    paused_at = run_of(campaign["id"]).rows_done
    time.sleep(2.0)

    assert run_of(campaign["id"]).rows_done == paused_at < 200
    assert run_of(campaign["id"]).status == "paused"
    action(api, campaign["id"], "resume")
    assert wait_until(lambda: run_of(campaign["id"]).status == "completed", 60)
    assert wait_until(lambda: sum(deliveries().values()) == 200, 60)
    assert set(deliveries().values()) == {1} and len(deliveries()) == 200
    assert Campaign.objects.get(pk=campaign["id"]).status == "completed"


def test_a_killed_worker_resumes_from_the_checkpoint_without_duplicates(
    api,
    promo_template,
    start_worker,
    media_root,
    settings,
):
    settings.TIDINGS_CAMPAIGN_STALL_SECONDS = 2
    campaign = create_campaign(api)
    assert upload(api, campaign["id"], crowd(300)).status_code == 201
    action(api, campaign["id"], "submit")
    slow = worker_env(media_root, TIDINGS_CAMPAIGN_BATCH_SIZE=10,
                      TIDINGS_CAMPAIGN_BATCH_DELAY_SECONDS=0.1, TIDINGS_CAMPAIGN_STALL_SECONDS=2)  # fmt: skip
    first = start_worker(queues(), concurrency=1, **slow)
    action(api, campaign["id"], "start")
    assert wait_until(lambda: (r := run_of(campaign["id"])) and r.rows_done >= 50, 30)

    first.kill()
    killed_at = run_of(campaign["id"]).rows_done
    assert killed_at < 300
    start_worker(queues(), concurrency=1, **slow)
    time.sleep(2.5)  # the dead executor's lease runs out
    resumed = campaign_runs_resume_stalled()  # what beat's resume task does
    # Redis keeps the dead worker's task unacknowledged (visibility timeout): beat resumes
    # the run. RabbitMQ hands the task to the new worker at once, which may have resumed it.
    assert resumed == 1 if broker_kind() == "redis" else resumed in (0, 1)

    assert wait_until(lambda: run_of(campaign["id"]).status == "completed", 60)
    run = run_of(campaign["id"])
    assert (run.rows_done, run.accepted) == (300, 300)
    # Delivery tasks the dead worker had prefetched come back through the stuck-message
    # sweep, as in beat (the segments test below does the same).
    settings.TIDINGS_STUCK_AFTER_SECONDS = 2
    assert wait_until(
        lambda: messages_requeue_stuck() >= 0 and sum(deliveries().values()) >= 300, 60
    )
    receivers = deliveries()
    assert len(receivers) == 300 and set(receivers.values()) == {1}


def test_a_killed_worker_resumes_its_segments_without_duplicates(
    api, promo_template, start_worker, media_root, settings
):
    """Three segments fanned out by two worker processes; SIGKILL mid-run, a new worker,
    beat's resume: every row is sent exactly once."""
    settings.TIDINGS_CAMPAIGN_SEGMENT_ROWS = 100  # the upload scan cuts 300 rows in 3
    settings.TIDINGS_CAMPAIGN_STALL_SECONDS = 2
    campaign = create_campaign(api)
    assert upload(api, campaign["id"], crowd(300)).status_code == 201
    action(api, campaign["id"], "submit")
    slow = worker_env(media_root, TIDINGS_CAMPAIGN_BATCH_SIZE=10,
                      TIDINGS_CAMPAIGN_BATCH_DELAY_SECONDS=0.1, TIDINGS_CAMPAIGN_STALL_SECONDS=2)  # fmt: skip
    first = start_worker(queues(), concurrency=2, **slow)
    action(api, campaign["id"], "start")
    assert wait_until(lambda: (r := run_of(campaign["id"])) and r.rows_done >= 50, 30)
    assert (
        CampaignSegment.objects.filter(run=run_of(campaign["id"]), owner__isnull=False).count() == 2
    )

    first.kill()
    assert run_of(campaign["id"]).rows_done < 300
    start_worker(queues(), concurrency=2, **slow)
    time.sleep(2.5)  # the dead executors' leases run out
    # What beat's resume task does: the run's heartbeat may be fresh (the new worker took
    # the third segment), two of its segments' are not. (On RabbitMQ the dead worker's
    # unacknowledged segment tasks come back at once, and the new worker may already have
    # resumed them from their checkpoints: then nothing is stalled.)
    resumed = campaign_runs_resume_stalled()
    assert resumed == 1 if broker_kind() == "redis" else resumed in (0, 1)

    assert wait_until(lambda: run_of(campaign["id"]).status == "completed", 60)
    run = run_of(campaign["id"])
    assert (run.rows_done, run.accepted) == (300, 300)
    assert Counter(Message.objects.values_list("receiver", flat=True)) == {
        f"user{i}@example.com": 1 for i in range(300)
    }
    # Delivery tasks the dead worker had taken are re-published by the stuck-message sweep.
    settings.TIDINGS_STUCK_AFTER_SECONDS = 2
    assert wait_until(
        lambda: messages_requeue_stuck() >= 0 and sum(deliveries().values()) >= 300, 60
    )
    receivers = deliveries()
    assert len(receivers) == 300 and set(receivers.values()) == {1}
