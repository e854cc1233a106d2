"""Step schedules for the ONNX-graph interpreter: tensor lifetimes and one parallel branch.

Lifetimes: each intermediate tensor is dropped right after its last reader, so the allocator
hands the next operator a block that is still in cache (as ONNX Runtime's memory planner does).

Row split: the first layers work on the largest maps and only look a few pixels up and down.
Their output rows 0..k-1 depend only on the image rows above some bound, and rows k.. on
those below another, so the top and the bottom of the image can go through those layers on
two threads at once, each tile with a margin (halo) that covers the layers' reach, and the
two halves of the result are stacked. Tiles start on a multiple of the total stride, so every
layer's grid lines up with the untiled one and the kept rows are computed exactly as before.

Branch: YOLOX ends with three detection heads, one per pyramid level, that meet only in the
final concat. With passive OpenMP threads, splitting every operator over two cores costs a
thread wake-up per operator (~100 us on a VM), more than it saves at batch 1. Running the
heaviest head on a second thread instead costs one wake-up per frame: the main thread goes on
with the rest of the graph and picks the head's outputs up at the final concat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# A step as the scheduler sees it: the names it reads and the name it writes.
StepIO = tuple[Sequence[str], str]
# How a step maps rows: ("window", kernel, stride, pad) for convolutions and pools,
# ("same",) for row-wise ops (elementwise, channel concat), ("other",) for anything else.
RowMap = tuple[str, ...] | tuple[str, int, int, int]


@dataclass(frozen=True)
class StepOrder:
    """Steps to run in this order, and after each the tensors nobody reads any more."""

    steps: tuple[int, ...]
    release: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class BranchPlan:
    """A side branch for a helper thread, and the main sequence around it.

    The side branch starts once the main sequence has run position ``launch_after`` (its
    inputs, ``side_inputs``, then all exist) and hands ``side_outputs`` back before the main
    sequence runs the step that reads them.
    """

    main: StepOrder
    side: StepOrder
    launch_after: int
    join_before: int
    side_inputs: tuple[str, ...]
    side_outputs: tuple[str, ...]
    side_share: float  # the branch's share of the estimated cost


@dataclass(frozen=True)
class RowSplit:
    """Run ``prefix`` on a top and a bottom tile of the input and stack the rows of ``cut``.

    Row ``r`` of ``cut`` depends on input rows ``r * jump + lo`` .. ``r * jump + hi``."""

    prefix: StepOrder
    cut: str
    jump: int
    lo: int
    hi: int
    share: float

    def tiles(self, rows: int) -> tuple[int, int, int]:
        """For an input of ``rows`` rows: (top tile end, bottom tile start, first cut row of
        the bottom tile), tile bounds on multiples of ``jump``."""
        half = rows // self.jump // 2
        top_end = min(rows, -(-((half - 1) * self.jump + self.hi + 1) // self.jump) * self.jump)
        bottom_start = max(0, (half * self.jump + self.lo) // self.jump * self.jump)
        return top_end, bottom_start, half


def plan_row_split(
    steps: Sequence[StepIO],
    rows: Sequence[RowMap],
    image: str,
    cost: Sequence[float],
    kept: set[str],
    image_rows: int,
) -> RowSplit | None:
    """The longest prefix of row-local steps that ends in a single live tensor and reaches at
    most an eighth of the image up or down, or None when it is under 15% of the cost."""
    last_read: dict[str, int] = {}
    for i, (names, _) in enumerate(steps):
        for name in names:
            last_read[name] = i
    geometry: dict[str, tuple[int, int, int]] = {image: (1, 0, 0)}  # jump, lo, hi
    best: tuple[int, str] | None = None
    for i, ((names, out), row_map) in enumerate(zip(steps, rows, strict=True)):
        inputs = [geometry[n] for n in names if n in geometry]
        if row_map[0] == "window" and inputs:
            _, k, stride, pad = row_map
            jump, lo, hi = inputs[0]
            geometry[out] = (
                jump * int(stride),
                lo - int(pad) * jump,
                hi + (int(k) - 1 - int(pad)) * jump,
            )
        elif row_map[0] == "same" and inputs and len({g[0] for g in inputs}) == 1:
            geometry[out] = (inputs[0][0], min(g[1] for g in inputs), max(g[2] for g in inputs))
        else:
            break
        jump, lo, hi = geometry[out]
        if max(-lo, hi) > image_rows // 8:
            break
        live = [n for n in geometry if n not in kept and last_read.get(n, -1) > i]
        if live == [out]:
            best = (i, out)
    if best is None:
        return None
    end, cut = best
    share = sum(cost[: end + 1]) / (sum(cost) or 1.0)
    if share < 0.15:
        return None
    jump, lo, hi = geometry[cut]
    prefix = lifetimes(steps, range(end + 1), kept | {cut}, {})
    return RowSplit(prefix, cut, jump, lo, hi, share)


def lifetimes(
    steps: Sequence[StepIO], order: Sequence[int], kept: set[str], pinned: dict[int, set[str]]
) -> StepOrder:
    """Release lists for ``order``; names in ``kept`` live on, ``pinned[pos]`` are read at
    position ``pos`` besides the steps' own inputs (a hand-over to another thread)."""
    last: dict[str, int] = {}
    for pos, i in enumerate(order):
        for name in (*steps[i][0], *pinned.get(pos, ())):
            last[name] = pos
    release: list[list[str]] = [[] for _ in order]
    for name, pos in last.items():
        if name not in kept:
            release[pos].append(name)
    return StepOrder(tuple(order), tuple(tuple(r) for r in release))


def plan_output_branch(
    steps: Sequence[StepIO], output: str, cost: Sequence[float], kept: set[str]
) -> BranchPlan | None:
    """The costliest subgraph that only the output step reads, or None when there is none
    worth a thread (at least 10% of the estimated cost)."""
    producer = {out: i for i, (_, out) in enumerate(steps)}
    readers: dict[int, set[int]] = {}
    for i, (names, _) in enumerate(steps):
        for name in names:
            if name in producer:
                readers.setdefault(producer[name], set()).add(i)
    final = producer.get(output)
    if final is None:
        return None
    best: set[int] = set()
    for name in steps[final][0]:
        if name not in producer:
            continue
        branch = {producer[name]}
        grown = True
        while grown:  # add every step all of whose readers are already in the branch
            grown = False
            for i in range(final):
                if i not in branch and readers.get(i) and readers[i] <= branch:
                    branch.add(i)
                    grown = True
        if sum(cost[i] for i in branch) > sum(cost[i] for i in best):
            best = branch
    total = sum(cost) or 1.0
    share = sum(cost[i] for i in best) / total
    if share < 0.1 or len(best) == final:
        return None
    side = sorted(best)
    main = [i for i in range(len(steps)) if i not in best]
    made_in_side = {steps[i][1] for i in side}
    inputs = sorted({n for i in side for n in steps[i][0] if n not in made_in_side} - kept)
    outputs = sorted(n for n in steps[final][0] if n in made_in_side)
    position = {i: pos for pos, i in enumerate(main)}
    launch = max((position[producer[n]] for n in inputs if n in producer), default=-1)
    join = position[final]
    return BranchPlan(
        main=lifetimes(steps, main, kept, {launch: set(inputs)} if launch >= 0 else {}),
        side=lifetimes(steps, side, kept | set(outputs), {}),
        launch_after=launch,
        join_before=join,
        side_inputs=tuple(inputs),
        side_outputs=tuple(outputs),
        side_share=share,
    )
