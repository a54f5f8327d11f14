"""The admin's name and links: "Tidings administration", and "View site" opens the delivery
dashboard (there is no public site to view at /). Templates: config/templates/admin/."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse_lazy

SITE_HEADER = "Tidings administration"
SITE_TITLE = "Tidings admin"
DASHBOARD_URL = reverse_lazy("tidings-dashboard")


def admin_site_brand(site: admin.AdminSite) -> None:
    site.site_header = SITE_HEADER
    site.site_title = SITE_TITLE
    site.index_title = "Tidings"
    # Lazy (reversed on first use, once the URLconf is loaded); the stubs want a str.
    site.site_url = DASHBOARD_URL  # type: ignore[assignment]
