from __future__ import annotations

import pytest

from channels_app.models import ChannelAccount
from templates_app.models import MessageTemplate
from tests.e2e.conftest import start_worker  # noqa: F401 - real workers for the README curl


@pytest.fixture
def sms(tenant):
    """austin's demo: template 1 is an SMS (here on the sandbox provider)."""
    ChannelAccount.objects.create(app=tenant, name="sms", channel="sms", provider="sandbox")
    return MessageTemplate.objects.create(
        app=tenant,
        name="austin demo",
        code="austin-demo",
        austin_id=1,
        channel="sms",
        receiver_type="phone",
        content={"text": "Hello {$name}"},
    )


@pytest.fixture
def plain_sms(sms):
    sms.content = {"text": "Hello from Tidings"}
    sms.save()
    return sms


from tests.tracking.conftest import clean_rule_state, ding  # noqa: E402,F401 - DingTalk fake, clean rule windows
