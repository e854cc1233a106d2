"""Print the stream worker nodes: slots, load, heartbeat and the cameras running on each."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tenants.platform.nodes import node_cameras_text, stream_nodes_with_liveness


class Command(BaseCommand):
    """``manage.py stream_nodes``: what the platform admin's stream nodes page shows."""

    help = ("List the stream worker nodes (all queues): live or gone (silent for more than "
            "three heartbeats), slots in use, load average, last heartbeat, running cameras.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--live", action="store_true", help="only the live nodes")

    def handle(self, *args: Any, **options: Any) -> None:
        nodes = list(stream_nodes_with_liveness())
        if options["live"]:
            nodes = [node for node in nodes if node.alive]
        if not nodes:
            self.stdout.write("no stream node has advertised itself (is a streams worker "
                              "running? see docs/streams.md, Running the workers)")
            return
        header = (f"{'node':<32} {'state':<5} {'queue':<16} {'slots':>7} {'load 1/5/15':>17} "
                  f"{'heartbeat (UTC)':<19}  cameras (tenant/camera)")
        self.stdout.write(header)
        live_slots = free = 0
        for node in nodes:
            state = "live" if node.alive else "gone"
            if node.alive:
                live_slots += node.slots
                free += node.slots_free
            load = f"{node.load_1m:.2f}/{node.load_5m:.2f}/{node.load_15m:.2f}"
            self.stdout.write(
                f"{node.name:<32} {state:<5} {node.queue:<16} "
                f"{f'{node.slots_in_use}/{node.slots}':>7} {load:>17} "
                f"{node.heartbeat_at:%Y-%m-%d %H:%M:%S}  {node_cameras_text(node.cameras)}")
        live = sum(1 for node in nodes if node.alive)
        self.stdout.write(f"{live} live node(s) of {len(nodes)}: {live_slots} slots, "
                          f"{free} free")
