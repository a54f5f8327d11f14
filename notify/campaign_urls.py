"""API routes for campaigns and user groups."""

urlpatterns: list = []
