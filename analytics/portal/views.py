"""The dashboard and the site page: what a store or mall operator opens every morning."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from analytics.footfall import site_footfall_sources
from analytics.portal.navigation import first_url
from analytics.portal.selectors import SiteSummary, day_hour_bounds, site_summaries
from analytics.portal.site_page import (
    WEEKDAYS,
    compare_choices,
    opening_hours_rows,
    site_occupancy_card,
    zone_occupancy_today,
)
from analytics.site_occupancy import site_occupancy_reset
from cameras.selectors import site_get_visible_to


def _chart(summary: SiteSummary) -> dict[str, Any]:
    """What the page's script needs to draw and live-update one site's hourly chart."""
    return {
        "site": summary.site.pk,
        "labels": summary.today.labels,
        "starts": [start.isoformat() for start in summary.today.starts],
        "today": summary.today.counts,
        "compare": summary.compare.counts,
        "compare_label": summary.compare.day.strftime("%a %d %b"),
        "camera_ids": [state.camera.pk for state in summary.cameras],
        "zone_ids": summary.zone_ids,
        "day": summary.today.day.isoformat(),
        # A user who may see the site listens to the site's group; one granted only some of
        # its cameras listens to each of them (the site's socket would refuse it).
        "live_paths": ([f"/ws/sites/{summary.site.pk}/"] if summary.site_visible
                       else [f"/ws/cameras/{state.camera.pk}/" for state in summary.cameras]),
    }


def _setup_links(request: HttpRequest) -> dict[str, str]:
    user: Any = request.user
    links = {}
    if user.has_perm("cameras.add_site"):
        links["add_site"] = first_url("manage-site-add", default="/admin/cameras/site/add/")
    if user.has_perm("cameras.add_camera"):
        links["add_camera"] = first_url("manage-camera-add",
                                        default="/admin/cameras/camera/add/")
    return links


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every site the user may see: footfall today against the same weekday last week, current
    occupancy, an hourly chart and the cameras in trouble; live over /ws/sites/<id>/."""
    now = datetime.now(tz=UTC)
    summaries = site_summaries(user=request.user, now=now)
    return render(request, "analytics/dashboard.html", {
        "summaries": summaries, "charts": [_chart(s) for s in summaries],
        "generated_at": now, "setup": _setup_links(request),
        "can_manage": request.user.has_perm("cameras.change_camera"),
    })


@login_required
@require_GET
def dashboard_health(request: HttpRequest) -> HttpResponse:
    """The cameras' health of every visible site, as htmx out-of-band fragments (polled)."""
    summaries = site_summaries(user=request.user)
    return render(request, "analytics/_health_oob.html", {"summaries": summaries})


@login_required
@require_GET
def site_detail(request: HttpRequest, site_id: int) -> HttpResponse:
    """One site: today's totals, hourly chart against a comparison day, occupancy over the day,
    its cameras with health, opening hours; live over /ws/sites/<id>/."""
    site = site_get_visible_to(user=request.user, site_id=site_id)
    now = datetime.now(tz=UTC)
    summaries = site_summaries(user=request.user, now=now, site_id=site_id)
    if not summaries:
        # Neither the site nor any of its cameras is visible: the same 404 as a missing site.
        raise Http404("No such site")
    summary = summaries[0]
    choices = compare_choices(today=summary.today.day)
    compare_day: date | None = None
    raw = request.GET.get("compare", "")
    error = ""
    if raw:
        try:
            compare_day = date.fromisoformat(raw)
        except ValueError:
            error = f"'{raw}' is not a date; showing the same weekday last week."
        else:
            if compare_day >= summary.today.day or compare_day < summary.today.day - timedelta(
                    days=366):
                error = ("The comparison day must be within the last year, before today; "
                         "showing the same weekday last week.")
                compare_day = None
    if compare_day is not None:
        summary = site_summaries(user=request.user, now=now, site_id=site_id,
                                 compare_day=compare_day)[0]
    tz_bounds = day_hour_bounds(tz=summary.today.starts[0].tzinfo,  # type: ignore[arg-type]
                                day=summary.today.day)
    occupancy = zone_occupancy_today(zone_ids=summary.zone_ids, bounds=tz_bounds, now=now)
    people = (site_occupancy_card(user=request.user, site=site, today=summary.today.day, now=now)
              if site is not None else None)
    return render(request, "analytics/site.html", {
        "people": people, "reset_message": request.GET.get("reset", ""),
        "summary": summary, "site": summary.site, "chart": _chart(summary),
        "occupancy_chart": occupancy, "generated_at": now,
        "compare_choices": choices, "compare_error": error,
        "opening_hours": opening_hours_rows(summary.site), "weekdays": WEEKDAYS,
        "site_visible": site is not None,
        "edit_site_url": (first_url("manage-site-edit", args=(site_id,),
                                    default=f"/admin/cameras/site/{site_id}/change/")
                          if site is not None and request.user.has_perm("cameras.change_site")
                          else ""),
    })


@require_POST
@login_required
def site_occupancy_reset_view(request: HttpRequest, site_id: int) -> HttpResponse:
    """The site page's "Reset to zero" button: the same service as the API (permission,
    audit, record of what it removed)."""
    site = site_get_visible_to(user=request.user, site_id=site_id)
    if site is None:
        raise Http404("No such site")
    sources = site_footfall_sources(user=request.user, site=site).sources
    try:
        reset = site_occupancy_reset(actor=request.user, site=site, sources=sources,
                                     reason=request.POST.get("reason", "")[:500])
    except PermissionDenied:
        return HttpResponse("You may not reset this site's occupancy: ask an Owner or a "
                            "Manager. Nothing was changed.", status=403,
                            content_type="text/plain; charset=utf-8")
    return redirect(f"{reverse('site-detail', args=(site_id,))}?reset={reset.removed}")
