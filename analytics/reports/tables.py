"""The rows of an export: the API's answer, chunk by chunk, flattened into columns.

Every export asks the API's own views (``CountsView``, ``OccupancyView``) for its answer, with
the same query parameters, user and permissions, and writes the ``results`` rows of that
answer: each row equals the matching row of ``/api/v1/counts/`` (or ``/occupancy/``), and a
field the series gains (a data-quality flag, entrances, opening hours) appears as a new column
without a change here. A range longer than one answer allows (a year of hours) is read in
chunks of whole local days (within the bucket's range cap and the tenant's row quota) and the
rows are yielded as they come: nothing holds the whole series.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.http import HttpRequest, QueryDict
from rest_framework.request import Request

from analytics.api.errors import QueryTooLargeError
from analytics.api.views import CountsView, OccupancyView, SiteOccupancyView
from analytics.series import MAX_RANGE
from cameras.selectors import camera_get_visible_to, site_get_visible_to
from counting.selectors import counting_line_get_visible_to, zone_get_visible_to

Kind = Literal["counts", "occupancy", "site_occupancy"]
KINDS: tuple[Kind, ...] = ("counts", "occupancy", "site_occupancy")
# Series whose buckets carry no state across a local midnight may be read in chunks; a site's
# occupancy runs on from the previous buckets, so it is read in one answer.
CHUNKABLE: frozenset[str] = frozenset({"counts", "occupancy"})
ROWS_PER_DAY = {"minute": 1440, "hour": 24}


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested answer fields become ``parent.child`` columns; lists are joined with ``;``."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            flat[name] = ";".join(str(v) for v in value)
        else:
            flat[name] = value
    return flat


@dataclass
class ExportTable:
    """What one export shows: who and what it is about, and its rows (an iterator, read once).

    ``columns`` is known once the first row is read (:meth:`first`); every writer calls it.
    """

    kind: Kind
    site_name: str
    scope_label: str
    scope: dict[str, Any]
    timezone: str
    bucket: str
    start: datetime
    end: datetime
    rows: Iterator[dict[str, Any]]
    columns: list[str] = field(default_factory=list)
    total_rows: int = 0  # the expected number of rows, for progress (0: unknown)
    sums: dict[str, float] = field(default_factory=dict)  # numeric columns, over rows read
    _head: list[dict[str, Any]] = field(default_factory=list)

    def first(self) -> list[str]:
        """Read the first row to learn the columns (kept and yielded again by :meth:`iter`)."""
        if not self.columns:
            head = next(self.rows, None)
            if head is not None:
                self._head.append(head)
                self.columns = list(head)
        return self.columns

    def iter(self) -> Iterator[list[Any]]:
        """The rows as lists in the order of :attr:`columns`."""
        columns = self.first()
        for row in self._head:
            yield self._add([row.get(c) for c in columns])
        self._head.clear()
        for row in self.rows:
            yield self._add([row.get(c) for c in columns])

    def _add(self, values: list[Any]) -> list[Any]:
        for name, value in zip(self.columns, values, strict=True):
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.sums[name] = self.sums.get(name, 0) + value
        return values

    @property
    def title(self) -> str:
        what = {"occupancy": "Occupancy", "site_occupancy": "Site occupancy"}.get(
            self.kind, "People counts")
        return f"{what}: {self.scope_label}"

    @property
    def range_text(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} ({self.timezone})"

    def filename(self, ext: str) -> str:
        scope = f"{self.scope.get('type', 'scope')}{self.scope.get('id', '')}"
        return f"{self.kind}-{scope}-{self.start:%Y%m%d}-{self.end:%Y%m%d}-{self.bucket}.{ext}"


def _next_midnight(moment: datetime, tz: ZoneInfo) -> datetime:
    day = moment.astimezone(tz).date() + timedelta(days=1)
    # A midnight that does not exist resolves to the day's first instant (as the series does).
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC).astimezone(tz)


def api_answer(*, kind: Kind, user: Any, params: dict[str, str]) -> dict[str, Any]:
    """The serialized answer of ``/counts/`` or ``/occupancy/`` for ``params`` as ``user``.

    The view's own ``get`` validates the query and reads the series (no throttles: the caller
    has its own limits); its errors are the API's exceptions (``APIException`` subclasses).
    """
    http = HttpRequest()
    http.method = "GET"
    query = QueryDict(mutable=True)
    for key, value in params.items():
        query[key] = value
    http.GET = query  # type: ignore[assignment]
    http.user = user
    request = Request(http)
    request.user = user
    view_class: Any = {"counts": CountsView, "occupancy": OccupancyView,
                       "site_occupancy": SiteOccupancyView}[kind]
    view = view_class()
    view.setup(http)
    view.request = request
    view.format_kwarg = None
    return dict(view.get(request).data)


def _scope_names(user: Any, scope: dict[str, Any]) -> tuple[str, str]:
    """(site name, scope label) of an answer's scope."""
    kind, pk = scope.get("type"), int(scope.get("id") or 0)
    if kind == "site":
        site = site_get_visible_to(user=user, site_id=pk)
        return (site.name, site.name) if site else ("", "")
    if kind == "camera":
        camera = camera_get_visible_to(user=user, camera_id=pk)
        return (camera.site.name, f"Camera {camera.name}") if camera else ("", "")
    if kind == "line":
        line = counting_line_get_visible_to(user=user, line_id=pk)
        return ((line.camera.site.name, f"Line {line.name} (camera {line.camera.name})")
                if line else ("", ""))
    zone = zone_get_visible_to(user=user, zone_id=pk)
    return ((zone.camera.site.name, f"Zone {zone.name} (camera {zone.camera.name})")
            if zone else ("", ""))


def chunks(*, start: datetime, end: datetime, tz: ZoneInfo, bucket: str,
           days: int) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut at local midnights into pieces of at most ``days`` days.

    Minute and hour buckets never straddle a local midnight, so no bucket is split; calendar
    buckets are one piece (their range cap is the API's).
    """
    if bucket not in ROWS_PER_DAY:
        yield start, end
        return
    lower = start
    while lower < end:
        upper = lower
        for _ in range(days):
            upper = _next_midnight(upper, tz)
        upper = min(upper, end)
        yield lower, upper
        lower = upper


def export_table(*, kind: Kind, user: Any, params: dict[str, str],
                 chunked: bool = False) -> ExportTable:
    """The table of ``/counts/`` (kind ``counts``) or ``/occupancy/`` for the query ``params``
    (the API's own: site/camera/line or zone, from, to, bucket...).

    Without ``chunked`` it is exactly one API answer (same caps and errors); with it, a longer
    range is read in chunks of whole local days (see the module): the first chunk is read now,
    so a wrong query or an invisible scope is an error before any row is written.
    """
    params = {k: str(v) for k, v in params.items() if k != "format"}
    bucket = params.get("bucket", "hour")
    if not chunked or bucket not in ROWS_PER_DAY or kind not in CHUNKABLE:
        first = api_answer(kind=kind, user=user, params=params)
        pieces: list[tuple[datetime, datetime]] = []
        tz = ZoneInfo(first["timezone"])
        end = datetime.fromisoformat(str(first["end"]))
    else:
        # The scope's timezone comes from a one-day answer, then the range is cut in it.
        try:
            day_after = (datetime.fromisoformat(params.get("from", "")) + timedelta(days=1))
        except ValueError:
            api_answer(kind=kind, user=user, params=params)  # the API's error for 'from'
            raise
        probe = api_answer(kind=kind, user=user, params={**params, "bucket": "day",
                                                         "to": day_after.isoformat()})
        tz = ZoneInfo(probe["timezone"])
        start = _parse(params.get("from", ""), tz)
        end = _parse(params.get("to", ""), tz)
        days = MAX_RANGE[bucket].days
        while True:
            pieces = list(chunks(start=start, end=end, tz=tz, bucket=bucket, days=days))
            try:
                first = api_answer(kind=kind, user=user, params={
                    **params, "from": pieces[0][0].isoformat(), "to": pieces[0][1].isoformat()})
                break
            except QueryTooLargeError:
                if days == 1:
                    raise
                days = max(1, days // 2)  # within the tenant's row quota per query
        pieces = pieces[1:]

    def rows() -> Iterator[dict[str, Any]]:
        for row in first["results"]:
            yield flatten(row)
        for lower, upper in pieces:
            data = api_answer(kind=kind, user=user, params={
                **params, "from": lower.isoformat(), "to": upper.isoformat()})
            for row in data["results"]:
                yield flatten(row)

    per_day = ROWS_PER_DAY.get(bucket)
    first_start = datetime.fromisoformat(str(first["start"])).astimezone(tz)
    expected = int((end - first_start).total_seconds() / 86400 * per_day) if per_day else 0
    site_name, label = _scope_names(user, first["scope"])
    return ExportTable(kind=kind, site_name=site_name, scope_label=label, scope=first["scope"],
                       timezone=first["timezone"], bucket=bucket, start=first_start,
                       end=end.astimezone(tz), rows=rows(), total_rows=expected)


def _parse(value: str, tz: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
