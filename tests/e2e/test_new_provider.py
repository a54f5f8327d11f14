"""Adding a provider, even one with a new channel, is one folder plus one registry line.

The test writes a throwaway provider folder (adapter, fake, docs, e2e case) for a channel
no other provider serves, registers it the way a registry line (or TIDINGS_EXTRA_PROVIDERS,
for the worker process) does, and checks that nothing else needed editing: its docs section
is generated, the documented worker command (`--lanes normal`) consumes its lane, and its
end-to-end case runs through the API and a real worker like every built-in provider's, and
its receipts are parsed and pulled by its own receipts.py."""

from __future__ import annotations

import os
import textwrap
from contextlib import ExitStack

import pytest
from django.test import Client

from channels_app.providers import registry
from channels_app.providers.reference import DOCS_FILE, channels_reference, provider_section
from notify.lanes import resolve_lanes
from tests.e2e.conftest import ROOT
from tests.e2e.test_channels import assert_arrived, case_for, send_case
from tracking.receipts.base import receipt_token
from tracking.receipts.pull import receipts_pull

pytestmark = pytest.mark.e2e

KIND, CHANNEL, PACKAGE = "chirp_bot", "chirp", "throwaway_chirp"
ADAPTER = f"{PACKAGE}.adapter.ChirpAdapter"

FOLDER = {
    "__init__.py": "",
    "adapter.py": """
        from rest_framework import serializers

        from channels_app.providers.base import DeliveryError, ProviderAdapter, SendResult
        from channels_app.providers.http import http_request


        class ChirpConfig(serializers.Serializer):
            token = serializers.CharField(help_text="Bot token")


        class ChirpAdapter(ProviderAdapter):
            provider = "chirp_bot"
            label = "Chirp bot"
            channels = ("chirp",)
            channel_labels = {"chirp": "Chirp"}
            default_base_url = "https://api.chirp.invalid"
            config_serializer = ChirpConfig
            secret_fields = ("token",)

            @classmethod
            def validate_content(cls, channel, content):
                if not isinstance(content.get("text"), str):
                    raise serializers.ValidationError({"content.text": "required"})

            def send(self, messages):
                results = []
                for message in messages:
                    response = http_request(
                        "POST",
                        f"{self.base_url}/v1/chirps",
                        json={"to": message.receiver, "text": message.content["text"]},
                        headers={"Authorization": f"Bearer {self.config['token']}"},
                        check_status=False,
                    )
                    if response.status_code != 200:
                        error = DeliveryError(f"chirp {response.status_code}", permanent=True)
                        results.append(SendResult(error=error))
                    else:
                        results.append(SendResult(provider_message_id=response.json()["id"]))
                return results
    """,
    "fake.py": """
        from channels_app.providers.fakes_http import Reply


        class FakeChirp:
            token = "chirp-token"

            def __init__(self):
                self.accepted = []

            def __call__(self, request):
                if request.headers.get("authorization") != f"Bearer {self.token}":
                    return Reply(401, {"error": "bad token"})
                self.accepted.append(request.json)
                return Reply(200, {"id": f"chirp-{len(self.accepted)}"})
    """,
    "docs.py": """
        from channels_app.providers.reference import ProviderDoc

        DOC = ProviderDoc(
            title="Chirp bot (throwaway)",
            content="`text` (required).",
            errors="Any answer but 200 is permanent.",
        )
    """,
    "receipts.py": """
        from django.utils import timezone

        from channels_app.providers.receipts import DELIVERED, Receipt, json_body


        def parse_push(request, account):
            body = json_body(request)
            return [Receipt(body["id"], DELIVERED, timezone.now(), "chirp: read")], {"ok": 1}


        def pull(account, now, limit):
            return {"received": 1, "matched": 0, "moved": 0}
    """,
    "e2e.py": """
        from channels_app.providers.e2e_case import E2ECase, http_fake

        from throwaway_chirp.fake import FakeChirp


        def e2e_case(stack):
            fake = FakeChirp()
            server = http_fake(stack, fake)
            return E2ECase(
                "chirp",
                "user_id",
                "@ada",
                {"text": "hello {$name}"},
                {"token": fake.token},
                server.url,
                lambda: fake.accepted == [{"to": "@ada", "text": "hello Ada"}],
            )
    """,
}


@pytest.fixture
def throwaway_provider(tmp_path, monkeypatch):
    """The folder (adapter, fake, docs, receipts, e2e case), on the import path, and its one\nregistry line."""
    folder = tmp_path / PACKAGE
    folder.mkdir()
    for name, text in FOLDER.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.register_provider(KIND, ADAPTER)
    yield tmp_path
    registry.unregister_provider(KIND)


def test_a_throwaway_provider_with_a_new_channel_needs_only_its_folder(
    throwaway_provider, start_worker, api, tenant
):
    # its docs section and its channel's row are generated
    section = provider_section(KIND)
    assert section.startswith(f"### `{KIND}`: Chirp bot (throwaway)")
    assert f"Channel: `{CHANNEL}`. Default base URL: `https://api.chirp.invalid`." in section
    assert "| `token` | char | yes |  | **secret** Bot token |" in section
    assert f"Receipts: its own format pushed to `/r/{KIND}/<account>/<token>`; polled" in section
    regenerated = channels_reference(DOCS_FILE.read_text())
    assert section in regenerated
    assert f"| `{CHANNEL}` | `{KIND}` |" in regenerated
    # its lanes are in the documented lane groups
    assert f"{CHANNEL}.normal" in resolve_lanes("normal")
    assert (CHANNEL, "Chirp") in registry.channel_choices()

    # the documented worker command consumes its lane; the worker knows the provider by
    # its registry line (TIDINGS_EXTRA_PROVIDERS for a process of its own)
    start_worker(
        lanes="normal",
        PYTHONPATH=os.pathsep.join([ROOT, str(throwaway_provider)]),
        TIDINGS_EXTRA_PROVIDERS=f"{KIND}={ADAPTER}",
    )
    # and its e2e case runs like every built-in provider's
    with ExitStack() as stack:
        case = case_for(KIND, stack)
        message = send_case(KIND, case, api, tenant)
        assert_arrived(case, message)

    # its receipts: the push endpoint parses them with its parser, beat pulls with its pull
    url = f"/r/{KIND}/{message.account_id}/{receipt_token(message.account_id)}"
    answer = Client().post(url, {"id": message.provider_message_id}, "application/json")
    assert (answer.status_code, answer.json()) == (200, {"ok": 1})
    message.refresh_from_db()
    assert message.state == "DELIVERED"
    assert receipts_pull()["received"] == 1
