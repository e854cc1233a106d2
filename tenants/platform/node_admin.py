"""Platform admin: the stream worker nodes, read only (each node writes its own row)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tenants.admin_sites import platform_admin_site
from tenants.platform.models import StreamNode
from tenants.platform.nodes import node_cameras_text


@admin.register(StreamNode, site=platform_admin_site)
class StreamNodeAdmin(admin.ModelAdmin):
    """Stream nodes with their slots, load, heartbeat and the cameras running there; a node
    silent for more than three heartbeats shows as gone. Nothing here is editable: nodes
    advertise themselves (counting/nodes.py); a gone node's row may be deleted."""

    list_display = ("name", "live", "slots_used", "load", "heartbeat_at", "running_cameras")
    list_filter = ("queue",)
    search_fields = ("name", "host")
    readonly_fields = [field.name for field in StreamNode._meta.fields]

    @admin.display(boolean=True, description="live")
    def live(self, obj: StreamNode) -> bool:
        return obj.is_live()

    @admin.display(description="slots in use")
    def slots_used(self, obj: StreamNode) -> str:
        return f"{obj.slots_in_use} / {obj.slots}"

    @admin.display(description="load (1, 5, 15 min)")
    def load(self, obj: StreamNode) -> str:
        return f"{obj.load_1m:.2f} {obj.load_5m:.2f} {obj.load_15m:.2f} ({obj.cpu_count} cores)"

    @admin.display(description="cameras (tenant/camera)")
    def running_cameras(self, obj: StreamNode) -> str:
        return node_cameras_text(obj.cameras)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
