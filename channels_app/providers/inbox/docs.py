"""The `inbox` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="In-app inbox",
    content="`body` (required), `title` (≤ 500), `data` (object for your app).",
    errors="Nothing to classify: a stored item is SENT; a resend after a crash finds its row.",
    default_base_url="none (stored in Tidings)",
    batch="1000",
    recall="no (items can be marked read)",
    receipts="none: READ when the user marks the item read",
)
