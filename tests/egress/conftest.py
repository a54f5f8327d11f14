from __future__ import annotations

import pytest

# Every loopback spelling the policy must refuse, and the private ranges (issue 10, finding 1).
LOOPBACK = ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "[::ffff:127.0.0.1]", "2130706433"]
PRIVATE = [
    "10.0.0.1",
    "172.16.0.1",
    "192.168.0.1",
    "169.254.169.254",
    "[fc00::1]",
    "[fe80::1]",
    "100.64.0.1",
]


@pytest.fixture
def no_allowlist(settings):
    """The production default: the test settings allowlist loopback for the local fakes."""
    settings.TIDINGS_EGRESS_ALLOWLIST = []
