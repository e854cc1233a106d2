"""Counting rules (lines, zones), the crossing ledger and the rollups its transaction writes,
stream leases and camera health."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from cameras.constants import CameraStatus
from cameras.models import Camera
from counting.constants import (
    ENTRANCE_HELP,
    IGNORE_DETECTIONS_HELP,
    Direction,
    EntranceDirection,
    GapCause,
    HealthCondition,
)


class CameraRule(models.Model):
    """What lines and zones share: a name unique per camera, an enabled flag, a rule version
    that increases on every change (the stream runner reloads on it), whether it is an entrance
    of the site (and which way is entering), and timestamps."""

    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    entrance = models.CharField(max_length=3, choices=EntranceDirection.choices, blank=True,
                                default=EntranceDirection.NONE, help_text=ENTRANCE_HELP)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["camera_id", "name", "id"]

    def __str__(self) -> str:
        return self.name


class CountingLine(CameraRule):
    """A counting segment on a camera's image, in normalised coordinates (0..1 of width/height).

    Crossing from the segment's left side to its right side (looking from (x1, y1) towards
    (x2, y2), image y pointing down) counts as "in", shown to users as ``in_label``.
    ``version`` increases on every geometry or rule change.
    """

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="lines")
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    in_label = models.CharField(max_length=50, default="in")
    out_label = models.CharField(max_length=50, default="out")

    class Meta(CameraRule.Meta):
        constraints = [
            models.UniqueConstraint(fields=["camera", "name"], name="counting_line_unique_name"),
        ]


class Zone(CameraRule):
    """A polygon on a camera's image (normalised points) with occupancy, entries and dwell.

    With ``ignore_detections`` it is a mask instead: people detected with their feet inside are
    dropped before tracking (a sign, a mannequin or a poster the detector takes for a person),
    and the zone itself counts nothing.
    """

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="zones")
    points = models.JSONField(help_text='[[x, y], ...] with 0 <= x, y <= 1, at least 3 points')
    capacity = models.PositiveIntegerField(null=True, blank=True)
    ignore_detections = models.BooleanField(default=False, help_text=IGNORE_DETECTIONS_HELP)

    class Meta(CameraRule.Meta):
        constraints = [
            models.UniqueConstraint(fields=["camera", "name"], name="zone_unique_name"),
        ]


class CountEvent(models.Model):
    """One line crossing: the ledger every count is derived from (partitioned by month of
    ``occurred_at``; docs/operations.md, "Partitioned ledger").

    ``idempotency_key`` is a hash of (camera, line, track, direction, frame time, lease
    generation), so writing the same event twice stores it once. Rows are never updated.
    """

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="count_events")
    line = models.ForeignKey(CountingLine, on_delete=models.PROTECT, related_name="events")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    track_id = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    frame_index = models.BigIntegerField()
    score = models.FloatField(default=0.0)
    model_version = models.CharField(max_length=64, blank=True)
    rule_version = models.CharField(max_length=64, blank=True)
    lease_generation = models.BigIntegerField()
    idempotency_key = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        # Partitioned by month of occurred_at (counting 0020, tenants/partitions.py): a unique
        # key must hold the partition key. The key hashes the frame time, so two rows with one
        # key always have one occurred_at: this rejects exactly what UNIQUE (key) rejected.
        # The primary key in the database is (id, occurred_at); id alone stays unique (one
        # sequence), which is what the ORM's pk means here.
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key", "occurred_at"],
                                    name="countevent_idempotency_unique"),
        ]
        indexes = [
            models.Index(fields=["camera", "occurred_at"]),
            models.Index(fields=["line", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.line_id} {self.direction} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class CameraLease(models.Model):
    """Which runner owns a camera's stream. ``generation`` is the fencing token: it grows on
    every takeover, and writes carrying an older generation are rejected."""

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, primary_key=True,
                                  related_name="lease")
    owner = models.CharField(max_length=200, blank=True)
    generation = models.BigIntegerField(default=0)
    acquired_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The last ledger batch written under this generation: a batch is applied only if its
    # sequence number is higher, so a retried batch (commit acknowledged but the reply lost)
    # never adds its zone samples twice. Reset to 0 on every takeover.
    last_batch_seq = models.BigIntegerField(default=0)
    # The time of the last analysed frame whose crossings are all stored (set by each batch's
    # fence, kept across takeovers): a runner that died took everything after it with it, so
    # the next owner's gap starts here.
    stored_until = models.DateTimeField(null=True, blank=True)
    # A camera that could not be reached ends its run (freeing the stream slot) and is not
    # dispatched again before ``next_attempt_at`` (counting/leases.py: lease_backoff_set);
    # ``connect_failures`` counts such runs in a row (the backoff doubles with each).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    connect_failures = models.PositiveIntegerField(default=0, db_default=0)

    def __str__(self) -> str:
        return f"lease camera={self.camera_id} gen={self.generation} owner={self.owner or '-'}"


class CameraHealth(models.Model):
    """The latest health of a camera's stream, updated by its runner every few seconds."""

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, primary_key=True,
                                  related_name="health")
    state = models.CharField(max_length=16, choices=CameraStatus.choices,
                             default=CameraStatus.STARTING)
    reason = models.CharField(max_length=500, blank=True)
    last_frame_at = models.DateTimeField(null=True, blank=True)
    fps_received = models.FloatField(default=0.0)
    fps_analysed = models.FloatField(default=0.0)
    frame_age_s = models.FloatField(null=True, blank=True)
    frames_dropped = models.BigIntegerField(default=0)
    events_lost = models.BigIntegerField(default=0)
    reconnects = models.BigIntegerField(default=0)
    # For the metrics endpoint (counting/metrics.py): totals that only grow (Prometheus
    # counters, kept here so they survive the runner's process and move with the camera) and
    # the runner's queues and ledger write times over its last report interval.
    events_written = models.BigIntegerField(default=0)
    lease_takeovers = models.BigIntegerField(default=0)
    ledger_writes = models.BigIntegerField(default=0)
    ledger_write_seconds = models.FloatField(default=0.0)
    ledger_write_max_s = models.FloatField(null=True, blank=True)
    buffered_events = models.PositiveIntegerField(default=0)
    publish_queue = models.PositiveIntegerField(default=0)
    # Frames due at the camera's detect rate that an overloaded runner could not analyse
    # (a total that only grows; see counting/runner/overload.py and the overload gaps).
    frames_skipped = models.BigIntegerField(default=0)
    # Whether frames are analysed (ok), analysed with trouble beside the loop (degraded: the
    # database, Redis or the lease heartbeat failing) or not analysed at all (stalled).
    condition = models.CharField(max_length=16, choices=HealthCondition.choices,
                                 default=HealthCondition.OK)
    condition_reason = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.camera_id}: {self.state}"


class CameraGap(models.Model):
    """A stretch of time in which a camera's frames were not analysed, so nothing could be
    counted: the source was offline or frozen, or no runner was running (a crash, a takeover);
    or, cause ``overload``, analysed only in part because the runner could not keep up.

    ``ended_at`` is empty while the gap lasts. Written by the stream runner (the one that saw
    the gap, or the one that took over after it); never edited by users.
    """

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="gaps")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    cause = models.CharField(max_length=16, choices=GapCause.choices)
    reason = models.CharField(max_length=500, blank=True)
    lease_generation = models.BigIntegerField(default=0)
    # Cause "overload": frames were analysed, but only this share of those due (the runner
    # could not keep up); seconds x (1 - share) is the analysis time lost. Empty for the other
    # causes (nothing analysed) and while an overload lasts.
    analysed_share = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["camera", "started_at"])]

    def __str__(self) -> str:
        return f"{self.camera_id} gap {self.cause} from {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def seconds(self) -> float | None:
        """The gap's length (None while it lasts)."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def seconds_unanalysed(self) -> float | None:
        """The analysis time lost: the whole gap, or the share not analysed of an overload."""
        seconds = self.seconds
        if seconds is None:
            return None
        return seconds * (1.0 - (self.analysed_share or 0.0))


class CameraHealthEvent(models.Model):
    """A change of a camera's stream state, or a gap in its processing (append-only log)."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="health_events")
    occurred_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=16, choices=CameraStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    gap_seconds = models.FloatField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.camera_id} {self.state} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"


# -- rollups: derived from the ledger, written in the same transaction as its events -----------
# (computed in one place, counting/rollups.py).
class LineRollup(models.Model):
    """In and out counts of one line over one UTC period (a minute or an hour)."""

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="+")
    count_in = models.PositiveIntegerField(default=0)
    count_out = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class LineMinuteRollup(LineRollup):
    """In and out counts of one line in one UTC minute (``minute`` is the minute's start)."""

    line = models.ForeignKey(CountingLine, on_delete=models.PROTECT, related_name="minute_rollups")
    minute = models.DateTimeField()

    class Meta:
        ordering = ["minute", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "minute"], name="line_minute_unique"),
        ]
        indexes = [models.Index(fields=["camera", "minute"])]

    def __str__(self) -> str:
        return f"{self.line_id} {self.minute:%Y-%m-%d %H:%M} +{self.count_in}/-{self.count_out}"


class LineHourRollup(LineRollup):
    """In and out counts of one line in one UTC hour: the sum of its minute rollups.

    Kept in the same ledger transaction as the minutes, so hourly and daily series of sites
    whose timezone is a whole number of hours from UTC read 60 times fewer rows.
    """

    line = models.ForeignKey(CountingLine, on_delete=models.PROTECT, related_name="hour_rollups")
    hour = models.DateTimeField()

    class Meta:
        ordering = ["hour", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "hour"], name="line_hour_unique"),
        ]
        indexes = [models.Index(fields=["camera", "hour"])]

    def __str__(self) -> str:
        return f"{self.line_id} {self.hour:%Y-%m-%d %H:00} +{self.count_in}/-{self.count_out}"


class LineDayRollup(LineRollup):
    """In and out counts of one line in one *local* day of its site (``day`` is the date in
    the site's timezone): the sum of the day's crossings.

    Kept in the ledger transaction with the minutes and hours, so a year of daily (weekly,
    monthly) counts reads 365 rows per line. Rebuilt for a site's lines when its timezone
    changes (:func:`counting.rollups.line_day_rollups_rebuild`).
    """

    line = models.ForeignKey(CountingLine, on_delete=models.PROTECT, related_name="day_rollups")
    day = models.DateField()

    class Meta:
        ordering = ["day", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "day"], name="line_day_unique"),
        ]
        # Covering: a year of days over 100 lines is an index-only scan (36,500 index entries,
        # no heap visits once vacuumed) instead of 36,500 random heap reads.
        indexes = [models.Index(fields=["camera", "day"]),
                   models.Index(fields=["line", "day"], include=["count_in", "count_out"],
                                name="line_day_covering")]

    def __str__(self) -> str:
        return f"{self.line_id} {self.day:%Y-%m-%d} +{self.count_in}/-{self.count_out}"


class ZoneMinuteOccupancy(models.Model):
    """Occupancy of one zone in one UTC minute: the average is ``occupancy_sum / samples``.

    ``dwell_seconds`` holds the time inside of every exit of the minute (the engine's zone
    exit events), exactly, so dwell medians and percentiles of any bucket are computed in SQL
    (``percentile_cont``) and equal those of the events themselves.
    """

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="minute_occupancy")
    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="+")
    minute = models.DateTimeField()
    samples = models.PositiveIntegerField(default=0)
    occupancy_sum = models.FloatField(default=0.0)
    max_occupancy = models.PositiveIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    exits = models.PositiveIntegerField(default=0)
    dwell_seconds = ArrayField(models.FloatField(), default=list, blank=True)

    class Meta:
        ordering = ["minute", "zone_id"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "minute"], name="zone_minute_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.zone_id} {self.minute:%Y-%m-%d %H:%M} max={self.max_occupancy}"

    @property
    def avg_occupancy(self) -> float:
        return self.occupancy_sum / self.samples if self.samples else 0.0


class CameraSnapshot(models.Model):
    """The latest picture of a camera, kept so that its lines and zones can be drawn while it
    is offline. Written by the stream runner every few minutes (counting/runner/snapshotter.py)
    and by the camera page when it grabs a fresh one; one row per camera, replaced each time.

    Stored as it may be shown: people already blurred when the tenant's ``privacy_blur`` is on,
    so no picture of a person is kept. Counting never reads it.
    """

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, primary_key=True,
                                  related_name="snapshot")
    jpeg = models.BinaryField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    taken_at = models.DateTimeField()
    blurred = models.BooleanField(default=False)
    people_blurred = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.camera_id} snapshot {self.taken_at:%Y-%m-%d %H:%M:%S}"


class RetentionMark(models.Model):
    """How far back the retention job has removed one kind of row in this tenant: rows of
    ``kind`` before ``removed_before`` are gone on purpose (counting/retention.py). Checks
    that compare rollups with what they were built from (counting/integrity.py) start there.
    """

    kind = models.CharField(max_length=32, unique=True)
    removed_before = models.DateTimeField()
    removed_total = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.kind} removed before {self.removed_before:%Y-%m-%d}"
