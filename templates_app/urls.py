from config.routers import OptionalSlashRouter
from templates_app.api import MessageTemplateViewSet

router = OptionalSlashRouter()
router.register("templates", MessageTemplateViewSet, basename="template")

urlpatterns = router.urls
