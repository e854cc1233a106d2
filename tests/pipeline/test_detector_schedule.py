"""Interpreter schedules: tensor lifetimes and the side branch (synthetic graphs, then YOLOX)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import torch

from counting.pipeline.detectors.schedule import (
    RowMap,
    lifetimes,
    plan_output_branch,
    plan_row_split,
)

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


# img -> conv 3x3/2 (p1) -> s1 -> conv 3x3/1 (p1) -> s2 -> add(s1, s2) -> s3 -> upsample -> out
ROW_STEPS = [(["img"], "s1"), (["s1"], "s2"), (["s1", "s2"], "s3"), (["s3"], "out")]
ROW_MAPS: list[RowMap] = [("window", 3, 2, 1), ("window", 3, 1, 1), ("same",), ("other",)]


def test_row_split_reach_and_tiles() -> None:
    # given a strided conv, a conv and a residual add before an operator it cannot split
    split = plan_row_split(ROW_STEPS, ROW_MAPS, "img", [4.0, 4.0, 1.0, 1.0], {"out"}, 64)
    # then the prefix ends at the add (s3: the only live tensor), stride 2
    assert split is not None and split.cut == "s3" and split.prefix.steps == (0, 1, 2)
    # and s3's row r reads image rows 2r-3 .. 2r+3 (conv 3/2 reaches -1..+1, then 3/1 on it)
    assert (split.jump, split.lo, split.hi) == (2, -3, 3)
    # and for 64 rows: cut rows 0..15 from a top tile of rows 0..33, 16.. from rows 28..
    assert split.tiles(64) == (34, 28, 16)


def test_no_row_split_when_the_prefix_is_cheap() -> None:
    cost = [1.0, 1.0, 1.0, 100.0]
    assert plan_row_split(ROW_STEPS, ROW_MAPS, "img", cost, {"out"}, 64) is None


def test_yolox_branch_run_is_identical_to_the_sequential_run(model_path: Path) -> None:
    # given the YOLOX graph as the CPU backend builds it, with a side branch planned
    from counting.pipeline.detectors import create_detector

    detector = create_detector(model_path, backend="torch", device="cpu", threads=2)
    graph = detector.graph  # type: ignore[attr-defined]
    assert graph.plan_branch()
    # with the first layers split into a top and a bottom tile (stride 8, +-37 rows of reach)
    split = graph._split
    assert split is not None and (split.jump, split.lo, split.hi) == (8, -36, 37)
    size = detector.input_size  # type: ignore[attr-defined]
    x = (torch.rand(1, 3, size, size) * 255).contiguous(memory_format=torch.channels_last)
    # when run with the detection head on the helper thread, and without
    with torch.inference_mode():
        branched = graph(x, branch=True)
        sequential = graph(x)
    # then the outputs are the same (bit-identical on the machines measured so far; the
    # tolerance only allows for a BLAS that picks another kernel for a tile's row count)
    torch.testing.assert_close(branched, sequential, rtol=1e-6, atol=1e-5)
    # and so are they for an image whose bottom differs: no row of one tile leaks into the other
    y = x.clone()
    y[:, :, 300:, :] = 0.0
    with torch.inference_mode():
        torch.testing.assert_close(graph(y, branch=True), graph(y), rtol=1e-6, atol=1e-5)


def test_helper_thread_runs_one_openmp_thread(model_path: Path) -> None:
    # given a 2-thread detector whose helper thread starts while this thread runs 2 OpenMP
    # threads (as after a batch), and then serves a branched pass
    from counting.pipeline.detectors import create_detector

    detector = create_detector(model_path, backend="torch", device="cpu", threads=2)
    assert torch.get_num_threads() == 2
    pool = detector.graph._pool()  # type: ignore[attr-defined]
    pool.submit(torch.get_num_threads).result(timeout=10)  # a thread takes its team size here
    size = detector.input_size  # type: ignore[attr-defined]
    detector.forward_raw(torch.ones(1, 3, size, size))  # type: ignore[attr-defined]
    # then operators on the helper use one OpenMP thread, not the 2 it started with, which
    # would compete with the main thread's operators
    assert pool.submit(torch.get_num_threads).result(timeout=10) == 1


def _branch_run_in_child(detector: object, queue: multiprocessing.Queue[float]) -> None:
    size = detector.input_size  # type: ignore[attr-defined]
    x = torch.ones(1, 3, size, size)
    queue.put(float(detector.forward_raw(x).sum()))  # type: ignore[attr-defined]


def test_branch_runs_in_a_forked_child(model_path: Path) -> None:
    # given a detector whose helper thread was started in this process (as when a worker
    # loads the model before Celery forks its children)
    from counting.pipeline.detectors import create_detector

    detector = create_detector(model_path, backend="torch", device="cpu", threads=2)
    size = detector.input_size  # type: ignore[attr-defined]
    expected = float(detector.forward_raw(torch.ones(1, 3, size, size)).sum())  # type: ignore[attr-defined]
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
