from channels_app.api import ChannelAccountViewSet
from tracking.urls import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("channel-accounts", ChannelAccountViewSet, basename="channel-account")

urlpatterns = router.urls
