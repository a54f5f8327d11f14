"""Models for campaigns (see the issue that builds them)."""
