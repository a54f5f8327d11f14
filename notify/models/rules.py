"""Models for rules (see the issue that builds them)."""
