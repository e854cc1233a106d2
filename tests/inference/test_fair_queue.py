"""Round robin over tenants, then over their cameras (no I/O)."""

from __future__ import annotations

from counting.inference.fair_queue import FairQueue, Request


def _put(queue: FairQueue, tenant: str, camera: str, frames: int = 1) -> None:
    queue.put(Request(tenant=tenant, camera=camera, frames=frames, item=f"{tenant}/{camera}"))


def test_a_tenant_with_many_cameras_does_not_starve_one_with_few() -> None:
    # given tenant a with five cameras waiting, then tenant b with one
    queue = FairQueue()
    for cam in "12345":
        _put(queue, "a", cam)
    _put(queue, "b", "9")
    # when batches of two are taken
    first = [r.item for r in queue.take(2)]
    # then b's camera is in the first batch, beside a's first camera
    assert first == ["a/1", "b/9"]
    # and a's other cameras follow in turn
    assert [r.item for r in queue.take(2)] == ["a/2", "a/3"]
    assert [r.item for r in queue.take(8)] == ["a/4", "a/5"]
    assert len(queue) == 0 and queue.take(4) == []


def test_turns_carry_over_between_batches() -> None:
    # given two tenants with two cameras each, two requests per camera
    queue = FairQueue()
    for _ in range(2):
        for tenant in "ab":
            for cam in "12":
                _put(queue, tenant, cam)
    # when taken one at a time
    order = [queue.take(1)[0].item for _ in range(8)]
    # then tenants alternate and each tenant's cameras alternate
    assert order == ["a/1", "b/1", "a/2", "b/2", "a/1", "b/1", "a/2", "b/2"]


def test_a_batch_never_exceeds_max_frames_unless_one_request_does() -> None:
    # given requests of 3, 3 and 2 frames
    queue = FairQueue()
    _put(queue, "a", "1", frames=3)
    _put(queue, "b", "1", frames=3)
    _put(queue, "c", "1", frames=2)
    # then a batch of at most 4 frames holds one request; a request larger than the maximum
    # still goes alone
    assert [r.frames for r in queue.take(4)] == [3]
    assert [r.frames for r in queue.take(2)] == [3]
    assert [r.frames for r in queue.take(4)] == [2]
    assert queue.frames() == 0 and queue.oldest() is None
