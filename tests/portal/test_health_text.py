"""A camera's health in plain words: never contradicting itself, always saying what to do."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from counting.health_text import health_text

OPEN_FAILED_AT_ONCE = ("cannot open stream rtsp://cam/ after 0.0s (unreachable, timed out after "
                       "10s, wrong credentials or not a video)")
OPEN_TIMED_OUT = ("cannot open stream rtsp://cam/ after 10.0s (unreachable, timed out after "
                  "10s, wrong credentials or not a video)")


@pytest.mark.parametrize(("state", "reason", "enabled", "headline", "detail_has", "severity"), [
    # the runner's "stream stopped (disabled)" under the state Disabled: said once, plainly
    ("disabled", "stream stopped (disabled)", True, "Switched off", "switched off", "off"),
    # a camera disabled in Manage whose runner has not reported yet
    ("online", "", False, "Switched off", "switched off", "off"),
    # refused at once: not a time-out, whatever the technical text says
    ("offline", OPEN_FAILED_AT_ONCE, True, "Offline", "refused the stream at once", "trouble"),
    # a real time-out
    ("offline", OPEN_TIMED_OUT, True, "Offline", "did not answer within 10 s", "trouble"),
    ("offline", "gave up after 5 reconnects", True, "Offline", "5 attempts to reconnect",
     "trouble"),
    ("starting", "", True, "Starting", "Waiting for the first picture", "warning"),
    ("frozen", "", True, "Picture frozen", "same picture", "trouble"),
    ("offline", "stream stopped (worker-shutdown)", True, "Offline", "restarting", "trouble"),
    ("online", "", True, "Counting", "", "ok"),
])
def test_health_words(state: str, reason: str, enabled: bool, headline: str, detail_has: str,
                      severity: str) -> None:
    text = health_text(state=state, reason=reason, enabled=enabled)
    assert (text.headline, text.severity) == (headline, severity)
    assert detail_has in text.detail
    assert "after 0.0s" not in text.detail and "stream stopped" not in text.detail
    assert headline.lower() not in text.detail.lower() or severity == "off"


def test_an_old_picture_while_online_is_a_warning() -> None:
    health = SimpleNamespace(condition="ok", frame_age_s=95.0, condition_reason="")
    text = health_text(state="online", health=health)
    assert (text.headline, text.severity) == ("Picture delayed", "warning")
    assert text.detail == "The newest picture is 95 s old; counts may lag."


def test_a_degraded_stream_still_counts_and_says_so() -> None:
    health = SimpleNamespace(condition="degraded", frame_age_s=0.2,
                             condition_reason="database unreachable")
    text = health_text(state="online", health=health)
    assert text.headline == "Counting, delayed"
    assert text.detail == ("Database unreachable. Counts are kept and saved when it recovers.")
