"""API routes for rule settings, profiles and preferences."""

urlpatterns: list = []
