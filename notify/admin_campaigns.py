"""Admin pages for campaigns."""
