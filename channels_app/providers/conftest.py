"""The suite's shared fixtures (tests/conftest.py, tests/egress/conftest.py) for the tests in
provider folders."""

from tests.conftest import (  # noqa: F401 - fixtures
    api,
    app_and_key,
    fake_http,
    fake_smtp,
    sent_message,
    tenant,
    with_callback,
)
from tests.egress.conftest import no_allowlist  # noqa: F401 - fixture
