"""The `apprise` section of docs/channels.md (`manage.py channels_reference`)."""

from channels_app.providers.reference import ProviderDoc

DOC = ProviderDoc(
    title="Apprise (any Apprise URL)",
    content=(
        "`body` (required), `title`, `format` (text, markdown, html), `type` (info, success, "
        "warning, failure). The receiver picks URLs by tag (`*` or `all` for every URL)."
    ),
    errors=(
        "A failed notification is transient (`apprise`); an invalid URL or no URL for the "
        "receiver's tag permanent."
    ),
    default_base_url="none (the URLs say where)",
)
