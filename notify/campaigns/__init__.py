"""Campaigns: bulk sends from crowd files, user groups or lists, now, at a time or on cron."""
