"""API routes for campaigns, user groups and cancelling scheduled sends (trailing slash
optional, like the other routers)."""

from django.urls import path, re_path

from notify.campaigns import api

urlpatterns = [
    re_path(r"^campaigns/?$", api.CampaignListView.as_view(), name="campaign-list"),
    re_path(r"^campaigns/(?P<pk>\d+)/?$", api.CampaignDetailView.as_view(), name="campaign-detail"),
    re_path(r"^campaigns/(?P<pk>\d+)/audience/?$", api.CampaignAudienceView.as_view(), name="campaign-audience"),
    re_path(r"^campaigns/(?P<pk>\d+)/(?P<action>submit|start|pause|resume|cancel)/?$",
            api.CampaignActionView.as_view(), name="campaign-action"),
    re_path(r"^campaigns/(?P<pk>\d+)/(?P<action>approve|reject)/?$",
            api.CampaignDecisionView.as_view(), name="campaign-decision"),
    re_path(r"^user-groups/?$", api.UserGroupListView.as_view(), name="user-group-list"),
    re_path(r"^user-groups/(?P<pk>\d+)/?$", api.UserGroupDetailView.as_view(), name="user-group-detail"),
    re_path(r"^user-groups/(?P<pk>\d+)/members/?$", api.UserGroupMembersView.as_view(), name="user-group-members"),
    # DELETE /requests/{id} and POST /requests/{id}/cancel do the same; each path takes one method.
    path("requests/<uuid:request_id>", api.RequestCancelView.as_view(http_method_names=["delete", "options"]), name="request-cancel-delete"),
    path("requests/<uuid:request_id>/cancel", api.RequestCancelView.as_view(http_method_names=["post", "options"]), name="request-cancel"),
]  # fmt: skip
