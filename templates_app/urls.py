from templates_app.api import MessageTemplateViewSet
from tracking.urls import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("templates", MessageTemplateViewSet, basename="template")

urlpatterns = router.urls
