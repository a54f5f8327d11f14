"""Fuzz the API from its own OpenAPI schema with schemathesis, against a live server on the
test database (pytest-django's `live_server`, a real WSGI server in a thread) holding an
App with a `send`+`manage` key, a sandbox account per channel, templates, a profile, a
group and a campaign. Fails on any 5xx and on any response that does not match the schema.

Bounded for `make test`: a fixed seed, schemathesis's coverage phase (boundary values: huge
integers, odd strings, missing fields) and 5 generated cases per operation, under a
minute. `make fuzz` runs the same test with 100 cases per
operation, over 10,000 cases, and prints the counts.

Excluded, with reasons:
- DELETE /api/v1/api-keys/{id}/ (v1_api_keys_destroy): it could revoke the fuzzer's own key, and every later
  case would only test the 401 (tests/test_api_keys.py covers revocation).
- The inbox end-user endpoints (Bearer tokens, not API keys): the fuzzer holds no inbox
  token, so every case would be the same 401 (tests/channels/test_inbox.py covers them).
Nothing is excluded for reaching real providers: every account here is a sandbox and no
worker runs, so sends are only queued.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from channels_app.channels import Channel
from channels_app.models import ChannelAccount
from notify.models import Scope, UserGroup, UserProfile
from notify.services import api_key_create, app_create
from templates_app.models import MessageTemplate

EXAMPLES = int(os.environ.get("TIDINGS_FUZZ_EXAMPLES", "5"))
PHASES = os.environ.get("TIDINGS_FUZZ_PHASES", "examples,coverage,fuzzing")
SEED = int(os.environ.get("TIDINGS_FUZZ_SEED", "20261127"))
ST = Path(sys.executable).with_name("st")


def _fixture_data() -> str:
    app, _ = app_create("fuzz")
    key = api_key_create(app, name="fuzzer", scopes=[Scope.SEND, Scope.MANAGE])
    for channel in Channel.values:
        ChannelAccount.objects.create(
            app=app, name=f"sandbox-{channel}", channel=channel, provider="sandbox"
        )
    MessageTemplate.objects.create(
        app=app, name="Welcome", code="welcome", channel="email", receiver_type="email",
        content={"subject": "Hi {$name}", "text": "Hello {$name}"},
    )  # fmt: skip
    MessageTemplate.objects.create(
        app=app, name="Ping", code="ping", channel="sms", receiver_type="phone",
        content={"text": "ping"},
    )  # fmt: skip
    UserProfile.objects.create(app=app, external_id="u1", email="u1@example.com")
    UserGroup.objects.create(app=app, name="everyone")
    return key


@pytest.mark.timeout(3600)
def test_api_survives_fuzzing(transactional_db, live_server, broker, tmp_path):
    key = _fixture_data()
    command = [
        str(ST), "run", f"{live_server.url}/api/schema/",
        "--url", live_server.url,
        "--header", f"Authorization: Api-Key {key}",
        "--checks", "not_a_server_error,response_schema_conformance",
        "--phases", PHASES,
        "--max-examples", str(EXAMPLES),
        "--seed", str(SEED),
        "--workers", "2",
        "--no-shrink",
        "--request-timeout", "30",
        "--exclude-path-regex", "^/api/v1/inbox/",
        "--exclude-operation-id", "v1_api_keys_destroy",
        "--suppress-health-check", "all",
        "--output-truncate", "false",
    ]  # fmt: skip
    # cwd: schemathesis keeps its cache in ./.schemathesis
    run = subprocess.run(command, capture_output=True, text=True, timeout=3500, cwd=tmp_path)
    counts = re.search(r"(\d+) generated, (.*)", run.stdout)
    print(f"fuzz: phases {PHASES}, {EXAMPLES} per operation:", counts and counts.group(0))  # noqa: T201
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert counts and int(counts.group(1)) > 0, run.stdout[-5000:]
