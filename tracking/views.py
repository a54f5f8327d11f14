"""Public, non-API routes: click redirects, provider receipts, the admin dashboard, /metrics."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from channels_app.models import ChannelAccount
from channels_app.providers.registry import channel_choices
from notify.errors import ApiError
from notify.models import App, Priority
from templates_app.models import MessageTemplate
from tracking.api import stats_filter_from
from tracking.clicks import link_click
from tracking.metrics import metrics_text
from tracking.models import MessageState
from tracking.receipts.base import receipt_token_valid, receipts_apply
from tracking.receipts.push import ReceiptRejected, parser_for, push_get_verified, push_signed
from tracking.selectors import dashboard_data

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def click_redirect(request: HttpRequest, token: str) -> HttpResponse:
    url = link_click(token, timezone.now())
    if url is None:
        raise Http404("unknown link")
    return HttpResponseRedirect(url)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receipt_push(
    request: HttpRequest, provider: str, account_id: int, token: str = ""
) -> HttpResponse:
    """/r/<provider>/<account id>/<token>: a provider's delivery receipts for one account.
    Signed providers may omit the token; everything else must carry the account's. A GET is
    only for providers that verify the URL that way (WeChat's echostr)."""
    if request.method == "GET" and not push_get_verified(provider):
        return HttpResponseNotAllowed(["POST"])
    account = ChannelAccount.objects.filter(pk=account_id, provider=provider).first()
    # One answer for an unknown account and a wrong token: the URL's existence stays secret.
    if account is None or (
        not push_signed(provider) and not receipt_token_valid(account_id, token)
    ):
        return JsonResponse(
            {"error": "invalid_receipt_token", "message": "unknown account or wrong token"},
            status=403,
        )
    try:
        receipts, answer = parser_for(provider)(request, account)
    except ReceiptRejected as error:
        logger.warning("receipt for account %s rejected: %s", account_id, error)
        return JsonResponse(
            {"error": "invalid_receipt", "message": str(error)}, status=error.status
        )
    result = receipts_apply(receipts, account_id=account.pk)
    logger.info("receipts for account %s: %s", account_id, result)
    if isinstance(answer, str):
        return HttpResponse(answer, content_type="text/plain")
    return JsonResponse(answer, safe=False)


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Delivery funnel per template per day, a time series per channel and the top failure
    reasons, from the daily aggregates, filtered by the query string."""
    params = request.GET
    apps = [int(params["app"])] if params.get("app", "").isdigit() else None
    try:
        filters = stats_filter_from(params, apps)
    except ApiError as error:
        filters = stats_filter_from({}, apps)
        problem = str(error.detail)
    else:
        problem = ""
    data = dashboard_data(filters)
    templates = MessageTemplate.objects.order_by("code")
    if apps:
        templates = templates.filter(app_id__in=apps)
    context = {
        **admin.site.each_context(request),
        "title": "Delivery dashboard",
        "filters": filters,
        "problem": problem,
        "data": data,
        "data_json": json.dumps(data),
        "apps": App.objects.order_by("name"),
        "selected_app": params.get("app", ""),
        "templates": templates.values_list("code", flat=True).distinct(),
        "channels": channel_choices(),
        "states": MessageState.choices,
        "priorities": Priority.choices,
    }
    return render(request, "tracking/dashboard.html", context)


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape: only with `Authorization: Bearer <TIDINGS_METRICS_TOKEN>`; with no
    token configured the endpoint does not exist (it shares a host with public links)."""
    token = settings.TIDINGS_METRICS_TOKEN
    if not token:
        return JsonResponse({"error": "not_found", "message": "not found"}, status=404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not constant_time_compare(given.strip(), token):
        response = JsonResponse(
            {"error": "not_authenticated", "message": "a bearer token is required"}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics_text()
    return HttpResponse(body, content_type=content_type)
