"""Why a runner should stop: the Redis stop flag, a disabled or deleted camera, a suspended
tenant; and camera edits (URL, credentials, detect_fps) that the running stream must pick up.

Redis and the database are asked separately: while Redis is down (the gate is closed) the
database checks still stop the stream, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cameras.models import Camera
from counting.runner.redis_gate import RedisGate
from tenants.models import Tenant
from tenants.redis_keys import redis_client, tenant_key


def stop_flag_key(schema: str, camera_id: int) -> str:
    """Redis key asking the camera's runner to stop (set by :func:`stream_stop_request`)."""
    return tenant_key(schema, "camera", camera_id, "stream-stop")


def stream_stop_request(*, schema: str, camera_id: int) -> None:
    """Ask the camera's runner to stop at its next check (within a second); the flag expires
    so a later runner is not stopped by it."""
    redis_client().set(stop_flag_key(schema, camera_id), "1", ex=30)


def stream_stop_flag_clear(*, schema: str, camera_id: int) -> None:
    """Remove a stop request that the runner has honoured."""
    redis_client().delete(stop_flag_key(schema, camera_id))


class StopCheck:
    """Polls whether the run must end, and notices edits of the camera row.

    ``check()`` returns "stopped" (flag set), "suspended" (the tenant is suspended),
    "deleted", "disabled", or None (go on); when the camera's ``updated_at`` moved it reloads
    the camera and calls ``on_camera_change``. ``flag_check()`` (Redis, through the gate) and
    ``row_check()`` (the database) are its two halves.
    """

    def __init__(self, *, schema: str, camera_id: int, camera_stamp: datetime | None,
                 on_camera_change: Callable[[Camera], None],
                 gate: RedisGate | None = None) -> None:
        self.schema = schema
        self.camera_id = camera_id
        self.camera_stamp = camera_stamp
        self.on_camera_change = on_camera_change
        self.gate = gate or RedisGate(name="Redis (stop flag)")

    def check(self) -> str | None:
        return self.flag_check() or self.row_check()

    def flag_check(self) -> str | None:
        """"stopped" when the stop flag is set; None otherwise or while Redis is down."""
        flag = self.gate.call(lambda: redis_client().get(stop_flag_key(self.schema,
                                                                        self.camera_id)), None)
        return "stopped" if flag else None

    def row_check(self) -> str | None:
        active = (Tenant.objects.filter(schema_name=self.schema)
                  .values_list("is_active", flat=True).first())
        if active is False:
            return "suspended"
        row = (Camera.objects.filter(pk=self.camera_id)
               .values_list("enabled", "updated_at").first())
        if row is None:
            return "deleted"
        enabled, updated_at = row
        if not enabled:
            return "disabled"
        if updated_at != self.camera_stamp:
            camera = Camera.objects.select_related("site").get(pk=self.camera_id)
            self.camera_stamp = camera.updated_at
            self.on_camera_change(camera)
        return None
