"""Delivery receipts: pushed by providers to /r/<provider>/..., pulled by beat, or reported
by django-anymail's tracking webhooks; each matched to its message by provider message id."""
