"""Interpreter schedules: tensor lifetimes and the side branch (synthetic graphs, then YOLOX)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import torch

from counting.pipeline.detectors.schedule import lifetimes, plan_output_branch

# x -> a -> b -> c ------------------> out = concat(c, e, f)
#        b -> d -> e (a heavy head)        ^
#        b -> f (a light head) ------------'
STEPS = [
    (["x"], "a"),
    (["a"], "b"),
    (["b"], "c"),
    (["b"], "d"),
    (["d"], "e"),
    (["b"], "f"),
    (["c", "e", "f"], "out"),
]
COST = [10.0, 10.0, 10.0, 30.0, 30.0, 5.0, 1.0]


def test_lifetimes_release_each_tensor_after_its_last_reader() -> None:
    order = lifetimes(STEPS, range(len(STEPS)), {"out"}, {})
    # b is read last by step 5 (f); the output is never released
    assert order.release[5] == ("b",)
    assert all("out" not in r for r in order.release)
    assert sorted(n for r in order.release for n in r) == ["a", "b", "c", "d", "e", "f", "x"]


def test_pinned_names_live_until_their_hand_over() -> None:
    order = lifetimes(STEPS, [0, 1, 2], {"out"}, {2: {"a"}})
    # a would die after step 1 (its last reader), but it is handed over at position 2
    assert order.release[1] == () and "a" in order.release[2]


def test_branch_is_the_costliest_subgraph_only_the_output_reads() -> None:
    plan = plan_output_branch(STEPS, "out", COST, {"out"})
    assert plan is not None
    # the d -> e head (60 of 96) goes to the helper; it starts once b exists
    assert plan.side.steps == (3, 4)
    assert plan.main.steps == (0, 1, 2, 5, 6)
    assert plan.side_inputs == ("b",) and plan.side_outputs == ("e",)
    assert plan.launch_after == 1 and plan.join_before == 4
    # b stays alive on the main thread until the hand-over, and e is never released by the side
    assert "b" not in plan.main.release[0]
    assert all("e" not in r for r in plan.side.release)


def test_no_branch_when_it_is_too_small() -> None:
    cost = [100.0, 100.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # every head < 10 % of the cost
    assert plan_output_branch(STEPS, "out", cost, {"out"}) is None


def test_yolox_branch_run_is_identical_to_the_sequential_run(model_path: Path) -> None:
    # given the YOLOX graph as the CPU backend builds it, with a side branch planned
    from counting.pipeline.detectors import create_detector

    detector = create_detector(model_path, backend="torch", device="cpu", threads=2)
    graph = detector.graph  # type: ignore[attr-defined]
    assert graph.plan_branch()
    x = (torch.rand(1, 3, 416, 416) * 255).contiguous(memory_format=torch.channels_last)
    # when run with the detection head on the helper thread, and without
    with torch.inference_mode():
        branched = graph(x, branch=True)
        sequential = graph(x)
    # then the outputs are bit-identical
    assert torch.equal(branched, sequential)


def _branch_run_in_child(detector: object, queue: multiprocessing.Queue[float]) -> None:
    x = torch.ones(1, 3, 416, 416)
    queue.put(float(detector.forward_raw(x).sum()))  # type: ignore[attr-defined]


def test_branch_runs_in_a_forked_child(model_path: Path) -> None:
    # given a detector whose helper thread was started in this process (as when a worker
    # loads the model before Celery forks its children)
    from counting.pipeline.detectors import create_detector

    detector = create_detector(model_path, backend="torch", device="cpu", threads=2)
    expected = float(detector.forward_raw(torch.ones(1, 3, 416, 416)).sum())  # type: ignore[attr-defined]
    # when a forked child runs a branched pass
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[float] = ctx.Queue()
    child = ctx.Process(target=_branch_run_in_child, args=(detector, queue))
    child.start()
    child.join(timeout=60)
    alive = child.is_alive()
    if alive:
        child.kill()
    # then it finishes (its own helper thread, not the parent's dead one) with the same result
    assert not alive, "the branched pass hung in the forked child"
    assert queue.get(timeout=5) == expected
