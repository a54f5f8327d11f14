"""The `sandbox` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Sandbox",
    content="any content (not checked)",
    errors="Receivers matching `reject_receivers` fail permanently (to try failure handling).",
    batch="1000",
    provider_id="`sandbox-<hex>`; each send is a row in the admin's *Sandbox deliveries*",
    channels="every channel",
)
