"""Alert webhooks go only where the address policy allows, checked when they are sent: the
host is resolved once and the call is made to that checked address (a rebinding name is never
asked again), redirects are not followed, and loopback and cloud-metadata addresses are refused
unless the deployment allows loopback (tests do) -- with nothing sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from analytics.alerts.senders import Message, webhook_send
from analytics.alerts.senders.base import Item
from tests.alerts.servers import HttpRecorder, http_recorder_start
from tests.security.net_fixtures import ScriptedResolver


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpRecorder]:
    recorder, server = http_recorder_start()
    yield recorder
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def inside() -> Iterator[HttpRecorder]:
    """A second server: what a redirect would lead to (an inside address)."""
    recorder, server = http_recorder_start()
    yield recorder
    server.shutdown()
    server.server_close()


def _message() -> Message:
    item = Item(alert_id=1, event="opened", kind="occupancy", severity="warning",
                message="Too many people", scope="site", scope_label="Hall", site_id=1,
                camera_id=None, value=12.0, threshold=10.0, opened_at="2026-01-01T00:00:00Z",
                resolved_at=None, resolution="")
    return Message(delivery_id=7, channel="webhook", recipient="hook", items=(item,))


def test_the_call_goes_to_the_address_checked_with_the_name_kept_for_host(
        receiver: HttpRecorder, resolver: ScriptedResolver, settings: Any) -> None:
    # given a name only the deployment's resolver knows, resolving to the (allowed) receiver
    settings.ALERTS_WEBHOOK_ALLOW_LOOPBACK = True
    resolver.set("hooks.customer.test", ["127.0.0.1"])
    url = f"http://hooks.customer.test:{receiver.port}/named?x=1"
    # when the webhook is sent
    outcome = webhook_send(_message(), url=url, secret="s3cret")
    # then it reached the checked address, with the URL's name as Host, resolved once
    assert outcome.ok, outcome.error
    [request] = receiver.on("/named?x=1")
    assert request.headers["host"] == f"hooks.customer.test:{receiver.port}"
    assert request.json()["delivery_id"] == 7
    assert resolver.calls == ["hooks.customer.test"]


def test_a_name_rebound_to_metadata_at_send_time_is_refused_and_nothing_sent(
        receiver: HttpRecorder, resolver: ScriptedResolver, settings: Any) -> None:
    # given a name that resolved to the receiver when saved and to the metadata address now
    settings.ALERTS_WEBHOOK_ALLOW_LOOPBACK = True
    resolver.set("rebind.customer.test", ["169.254.169.254"])
    before = len(receiver.requests)
    # when the webhook is sent
    outcome = webhook_send(_message(), url=f"http://rebind.customer.test:{receiver.port}/r",
                           secret="s3cret")
    # then it is refused for good (no retry), saying why, and nothing was sent anywhere
    assert not outcome.ok and not outcome.retry
    assert "cloud metadata address" in outcome.error
    assert "which webhooks may not use" in outcome.error
    assert len(receiver.requests) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "localhost"])
def test_loopback_is_refused_unless_allowed(receiver: HttpRecorder, settings: Any,
                                           host: str) -> None:
    # given a deployment that does not allow loopback (production's default)
    settings.ALERTS_WEBHOOK_ALLOW_LOOPBACK = False
    before = len(receiver.requests)
    outcome = webhook_send(_message(), url=f"http://{host}:{receiver.port}/loop",
                           secret="s3cret")
    assert not outcome.ok and not outcome.retry
    assert "loopback address" in outcome.error
    assert len(receiver.requests) == before


@pytest.fixture(scope="module")
def redirecting(inside: HttpRecorder) -> Iterator[int]:
    """A receiver that answers every POST with 307 to the inside server; yields its port."""
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", inside.url("/secret"))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_a_redirect_to_an_inside_address_is_not_followed(
        redirecting: int, inside: HttpRecorder, settings: Any) -> None:
    # given a receiver that redirects to another inside server
    settings.ALERTS_WEBHOOK_ALLOW_LOOPBACK = True
    # when the webhook is sent
    outcome = webhook_send(_message(), url=f"http://127.0.0.1:{redirecting}/moved",
                           secret="s3cret")
    # then the delivery failed with the reason, and the inside server got nothing
    assert not outcome.ok
    assert outcome.status_code == 307
    assert "redirects are not followed" in outcome.error
    assert inside.url("/secret") in outcome.error
    assert inside.requests == []
