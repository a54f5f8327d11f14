"""API routes for rule settings, profiles and preferences."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.routers import OptionalSlashRouter
from notify.rules_api import (
    FlowLimitViewSet,
    OptOutViewSet,
    ProfileViewSet,
    RuleSettingsView,
    SensitiveWordViewSet,
    TemplateRuleViewSet,
    UnsubscribeView,
)

router = OptionalSlashRouter()
router.register("template-rules", TemplateRuleViewSet, basename="template-rule")
router.register("sensitive-words", SensitiveWordViewSet, basename="sensitive-word")
router.register("flow-limits", FlowLimitViewSet, basename="flow-limit")
router.register("profiles", ProfileViewSet, basename="profile")
router.register("opt-outs", OptOutViewSet, basename="opt-out")

urlpatterns = [
    path("rule-settings", RuleSettingsView.as_view(), name="rule-settings"),
    # Public: the signed token is the credential (mail clients POST here, RFC 8058).
    path("u/<str:token>", csrf_exempt(UnsubscribeView.as_view()), name="unsubscribe"),
    *router.urls,
]
