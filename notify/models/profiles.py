"""Models for profiles (see the issue that builds them)."""
