"""Admin pages for consumer rules, profiles and preferences."""
