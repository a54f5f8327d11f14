from django.urls import path

from notify.api import SendView

urlpatterns = [
    path("send", SendView.as_view(), name="send"),
]
