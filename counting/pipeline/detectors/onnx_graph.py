"""Run an ONNX graph with PyTorch operators (a small interpreter, no torchvision, no pickle).

The ONNX file is parsed with :mod:`onnx` (a protobuf data format) and its initializers become
torch tensors through :func:`onnx.numpy_helper.to_array`. Each node is compiled once into a
closure over ``torch.nn.functional``; :class:`OnnxTorchGraph` runs them in topological order.
Only the operators YOLOX needs are supported (Add, Concat, Conv, MaxPool, Mul, Reshape,
Resize, Sigmoid, Slice, Transpose); anything else raises :class:`ModelError` at load time.

One rewrite is applied because it is exact: ``Mul(x, Sigmoid(x))`` becomes ``silu(x)``
(PyTorch's fused kernel computes the same function in one pass over memory).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from counting.pipeline.detectors.base import ModelError
from counting.pipeline.detectors.schedule import (
    BranchPlan,
    RowMap,
    RowSplit,
    StepIO,
    StepOrder,
    lifetimes,
    plan_output_branch,
    plan_row_split,
)

logger = logging.getLogger(__name__)

Op = Callable[[list[torch.Tensor]], torch.Tensor]
SUPPORTED_OPS = frozenset(
    {
        "Add",
        "Concat",
        "Conv",
        "MaxPool",
        "Mul",
        "Reshape",
        "Resize",
        "Sigmoid",
        "Slice",
        "Transpose",
    }
)


def load_onnx(path: Path) -> onnx.ModelProto:
    """Parse and check an ONNX file; :class:`ModelError` on anything that is not a valid model."""
    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf raises several unrelated types
        raise ModelError(f"not a valid ONNX model: {path} ({type(exc).__name__}: {exc})") from exc
    if not model.graph.node or not model.graph.input or not model.graph.output:
        raise ModelError(f"ONNX model has an empty graph: {path}")
    return model


def node_attributes(node: onnx.NodeProto) -> dict[str, Any]:
    """An ONNX node's attributes as plain Python values, by name."""
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _sym_pads(node: onnx.NodeProto, pads: list[int]) -> tuple[int, int]:
    if not pads:
        return (0, 0)
    if len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3]:
        raise ModelError(f"{node.op_type} {node.name!r}: asymmetric padding {pads} unsupported")
    return (int(pads[0]), int(pads[1]))


def _is_pointwise(
    weight: torch.Tensor, pad: list[int], stride: list[int], dil: list[int], groups: int
) -> bool:
    """A 1x1 conv with stride 1, no padding and one group: a matrix product per pixel."""
    return (
        tuple(weight.shape[2:]) == (1, 1)
        and groups == 1
        and all(v == 0 for v in pad)
        and all(v == 1 for v in stride)
        and all(v == 1 for v in dil)
    )


_ACTIVATIONS_INPLACE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "none": lambda y: y,
    "swish": lambda y: F.silu(y, inplace=True),
    "sigmoid": torch.sigmoid_,
}


def pointwise_gemm(
    x: torch.Tensor, matrix: torch.Tensor, bias: torch.Tensor | None, activation: str
) -> torch.Tensor:
    """A pointwise conv as one BLAS GEMM over the pixels of a channels-last batch.

    ``matrix`` is the weight as ``(C_in, C_out)``. On a channels-last tensor the pixels are
    already the rows of an ``(N*H*W, C_in)`` matrix, so no data moves before or after the
    product, and the result is channels-last again. Measured on YOLOX-Nano's 82 pointwise
    convs (one thread): 6.9 ms against 8.8 ms for oneDNN's fused conv with prepacked weights,
    whose ~23 us of set-up per call outweighs its fused activation at these sizes.
    """
    n, c, h, w = x.shape
    rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
    out = torch.mm(rows, matrix) if bias is None else torch.addmm(bias, rows, matrix)
    out = _ACTIVATIONS_INPLACE[activation](out)
    return out.view(n, h, w, matrix.shape[1]).permute(0, 3, 1, 2)


def _row_map(node: onnx.NodeProto) -> RowMap:
    """How ``node`` maps rows of its input to rows of its output (see :mod:`.schedule`)."""
    a = node_attributes(node)
    if node.op_type in ("Add", "Mul", "Sigmoid") or (
        node.op_type == "Concat" and int(a.get("axis", 0)) == 1
    ):
        return ("same",)
    if node.op_type in ("Conv", "MaxPool"):
        k = [int(v) for v in a.get("kernel_shape", [])]
        stride = [int(v) for v in a.get("strides", [1, 1])]
        pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
        dil = [int(v) for v in a.get("dilations", [1, 1])]
        if len(k) == 2 and dil == [1, 1] and len(pads) == 4 and pads[0] == pads[2]:
            return ("window", k[0], stride[0], pads[0])
    return ("other",)


class OnnxTorchGraph(torch.nn.Module):
    """An ONNX graph executed with torch operators; weights are registered buffers."""

    def __init__(self, model: onnx.ModelProto, fused_conv: bool = True) -> None:
        super().__init__()
        graph = model.graph
        consts: dict[str, np.ndarray[Any, Any]] = {
            i.name: numpy_helper.to_array(i) for i in graph.initializer
        }
        unsupported = sorted({n.op_type for n in graph.node} - SUPPORTED_OPS)
        if unsupported:
            raise ModelError(f"ONNX model uses unsupported operators: {', '.join(unsupported)}")
        init_names = set(consts)
        inputs = [i.name for i in graph.input if i.name not in init_names]
        if len(inputs) != 1:
            raise ModelError(f"expected one graph input, found {inputs}")
        self.input_name = inputs[0]
        self.output_name = graph.output[0].name
        # oneDNN's fused conv+activation kernel, when this torch build has it (CPU only).
        self.fused_conv = fused_conv and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
        self._conv_specs: dict[str, tuple[list[int], list[int], list[int], int]] = {}
        self._recording: dict[str, list[int]] | None = None
        self._packed: dict[str, torch.Tensor] = {}
        self._input_shapes: dict[str, list[int]] = {}  # conv weight -> input shape (prepack)
        dims = graph.input[[i.name for i in graph.input].index(self.input_name)]
        shape = [d.dim_value for d in dims.type.tensor_type.shape.dim]
        self.input_shape = tuple(int(v) for v in shape)

        consumers: dict[str, int] = {}
        for node in graph.node:
            for name in node.input:
                consumers[name] = consumers.get(name, 0) + 1
        silu_of = self._silu_pairs(graph, consumers)

        self._buffers_by_name: dict[str, str] = {}
        self._steps: list[tuple[Op, list[str], str]] = []
        self._row_maps: list[RowMap] = []  # per step, how it maps rows (for the row split)
        skip: set[str] = set()
        for node in graph.node:
            out = node.output[0]
            if out in skip:
                continue
            activation = "none"
            if node.op_type == "Conv" and self.fused_conv:
                # Conv followed by x*sigmoid(x): one fused oneDNN kernel (exact same math).
                mul_out = silu_of.get(out)
                sole = [n for n in graph.node if out in n.input]
                if mul_out is not None and consumers.get(out) == 2:
                    activation = "swish"
                    skip.update(n.output[0] for n in sole)
                    out = mul_out
                elif len(sole) == 1 and sole[0].op_type == "Sigmoid" and consumers.get(out) == 1:
                    # The heads' objectness/class convs end in a plain sigmoid.
                    activation = "sigmoid"
                    skip.add(sole[0].output[0])
                    out = sole[0].output[0]
            sig = self._silu_step(node, silu_of, skip)
            if sig is not None:
                self._steps.append(sig)
                self._row_maps.append(("same",))
                continue
            op = self._compile(node, consts, activation)
            if node.op_type in ("Conv", "Add", "Mul"):
                # Weights and constant operands become buffers so .to(device) moves them.
                tensor_inputs = [n for n in node.input if n]
                for n in tensor_inputs:
                    if n in consts:
                        self._register(n, consts[n])
            else:
                tensor_inputs = [n for n in node.input if n and n not in consts]
            self._steps.append((op, tensor_inputs, out))
            self._row_maps.append(_row_map(node))

        self._sequential = lifetimes(self._step_io(), range(len(self._steps)), self._kept(), {})
        self._branch: BranchPlan | None = None
        self._split: RowSplit | None = None
        self._branch_pool: ThreadPoolExecutor | None = None
        self._branch_pid = 0

    def _step_io(self) -> list[StepIO]:
        return [(names, out) for _, names, out in self._steps]

    def _kept(self) -> set[str]:
        """Names that live as long as the module: weights and the graph output."""
        return set(self._buffers_by_name) | {self.output_name}

    def _register(self, name: str, value: np.ndarray[Any, Any]) -> None:
        if name in self._buffers_by_name:
            return
        attr = f"w{len(self._buffers_by_name)}"
        self.register_buffer(attr, torch.from_numpy(np.array(value, dtype=np.float32)))
        self._buffers_by_name[name] = attr

    @staticmethod
    def _silu_pairs(graph: onnx.GraphProto, consumers: dict[str, int]) -> dict[str, str]:
        """Map x -> output of Mul(x, Sigmoid(x)) where the sigmoid feeds only that Mul."""
        sig_in = {
            n.output[0]: n.input[0]
            for n in graph.node
            if n.op_type == "Sigmoid" and consumers.get(n.output[0]) == 1
        }
        pairs: dict[str, str] = {}
        for n in graph.node:
            if n.op_type == "Mul" and len(n.input) == 2:
                a, b = n.input
                if sig_in.get(b) == a:
                    pairs[a] = n.output[0]
                elif sig_in.get(a) == b:
                    pairs[b] = n.output[0]
        return pairs

    @staticmethod
    def _silu_step(
        node: onnx.NodeProto, silu_of: dict[str, str], skip: set[str]
    ) -> tuple[Op, list[str], str] | None:
        """An unfused x*sigmoid(x): emit torch's single silu kernel instead of two ops."""
        if node.op_type != "Sigmoid":
            return None
        x = node.input[0]
        mul_out = silu_of.get(x)
        if mul_out is None or mul_out in skip:
            return None
        skip.add(mul_out)
        return (lambda t: F.silu(t[0]), [x], mul_out)

    def _compile(
        self, node: onnx.NodeProto, consts: dict[str, np.ndarray[Any, Any]], activation: str
    ) -> Op:
        a = node_attributes(node)
        kind = node.op_type
        if kind == "Conv":
            stride = tuple(a.get("strides", [1, 1]))
            dil = tuple(a.get("dilations", [1, 1]))
            groups = int(a.get("group", 1))
            pad = _sym_pads(node, list(a.get("pads", [])))
            has_bias = len(node.input) > 2 and bool(node.input[2])
            fused = self.fused_conv
            activate = _ACTIVATIONS_INPLACE[activation]  # on the conv's own fresh output

            weight_name = node.input[1]
            self._conv_specs[weight_name] = (list(pad), list(stride), list(dil), groups)

            pad_l, stride_l, dil_l = list(pad), list(stride), list(dil)
            fused_op = torch.ops.mkldnn._convolution_pointwise.default if fused else None

            def _conv(t: list[torch.Tensor]) -> torch.Tensor:
                bias = t[2] if has_bias else None
                if self._recording is not None:
                    self._recording[weight_name] = list(t[0].shape)
                if t[1].dim() == 2:  # a pointwise conv prepacked as a GEMM matrix
                    return pointwise_gemm(t[0], t[1], bias, activation)
                if fused_op is not None and t[0].device.type == "cpu":
                    out: torch.Tensor = fused_op(
                        t[0], t[1], bias, pad_l, stride_l, dil_l, groups, activation, [], ""
                    )
                    return out
                y = F.conv2d(t[0], t[1], bias, stride, pad, dil, groups)
                return activate(y)

            return _conv
        if kind == "Add":
            return lambda t: t[0] + t[1]
        if kind == "Mul":
            return lambda t: t[0] * t[1]
        if kind == "Sigmoid":
            return lambda t: torch.sigmoid(t[0])
        if kind == "Concat":
            axis = int(a["axis"])
            return lambda t: torch.cat(t, dim=axis)
        if kind == "MaxPool":
            k = tuple(a["kernel_shape"])
            s = tuple(a.get("strides", [1, 1]))
            p = _sym_pads(node, list(a.get("pads", [])))
            if a.get("ceil_mode", 0):
                raise ModelError("MaxPool with ceil_mode is unsupported")
            return lambda t: F.max_pool2d(t[0], k, s, p)
        if kind == "Transpose":
            perm = tuple(int(v) for v in a["perm"])
            return lambda t: t[0].permute(perm)
        if kind == "Reshape":
            shape = [int(v) for v in consts[node.input[1]]]
            # The export hard-codes batch 1; keep the real batch so frames can be batched.
            return lambda t: t[0].reshape([t[0].shape[0], *shape[1:]] if shape[0] == 1 else shape)
        if kind == "Resize":
            if a.get("mode", b"nearest") != b"nearest":
                raise ModelError("only nearest Resize is supported")
            scales = consts.get(node.input[2]) if len(node.input) > 2 else None
            if scales is None or len(scales) != 4 or tuple(scales[:2]) != (1.0, 1.0):
                raise ModelError("Resize needs constant NCHW scales")
            factor = (float(scales[2]), float(scales[3]))
            return lambda t: F.interpolate(t[0], scale_factor=factor, mode="nearest")
        if kind == "Slice":
            starts, ends = consts[node.input[1]], consts[node.input[2]]
            axes = consts[node.input[3]] if len(node.input) > 3 else np.arange(len(starts))
            steps = consts[node.input[4]] if len(node.input) > 4 else np.ones(len(starts), int)
            spec = [
                (int(ax), int(st), int(en), int(sp))
                for ax, st, en, sp in zip(axes, starts, ends, steps, strict=True)
            ]

            def _slice(t: list[torch.Tensor]) -> torch.Tensor:
                idx: list[slice] = [slice(None)] * t[0].dim()
                for ax, st, en, sp in spec:
                    idx[ax] = slice(st, min(en, t[0].shape[ax]), sp)
                return t[0][tuple(idx)]

            return _slice
        raise ModelError(f"unsupported operator {kind}")

    def prepack(self, batch: int = 1) -> None:
        """Prepare conv weights once for the CPU (fused mode).

        Pointwise (1x1, stride 1) convs become a ``(C_in, C_out)`` matrix for a GEMM (see
        :func:`pointwise_gemm`). The others are reordered into oneDNN's preferred blocked
        layout, which oneDNN would otherwise redo on every call; that layout is chosen for the
        input shapes of a ``batch``-sized forward pass, and other batch sizes stay correct.
        """
        if not self.fused_conv:
            return
        shape = (batch, *self.input_shape[1:])
        self._recording = {}
        try:
            with torch.inference_mode():
                self.forward(torch.zeros(shape).contiguous(memory_format=torch.channels_last))
            shapes, self._recording = self._recording, None
        finally:
            self._recording = None
        packed: dict[str, torch.Tensor] = {}
        for name, input_shape in shapes.items():
            pad, stride, dil, groups = self._conv_specs[name]
            weight = getattr(self, self._buffers_by_name[name])
            if _is_pointwise(weight, pad, stride, dil, groups):
                packed[name] = weight.reshape(weight.shape[0], -1).t().contiguous()
                continue
            reorder: Any = torch._C._nn.mkldnn_reorder_conv2d_weight  # stub lacks input_size
            packed[name] = reorder(weight.to_mkldnn(), pad, stride, dil, groups, input_shape)
        self._packed = packed
        self._input_shapes = shapes

    def plan_branch(self, cost: list[float] | None = None) -> bool:
        """Prepare :meth:`forward` with ``branch=True`` (see :mod:`.schedule`); ``cost`` per
        step defaults to the conv MACs recorded by :meth:`prepack`. False if no branch pays."""
        cost = cost if cost is not None else self._step_macs()
        steps, kept = self._step_io(), self._kept()
        self._branch = plan_output_branch(steps, self.output_name, cost, kept)
        if self._branch is None:
            return False
        split = plan_row_split(
            steps, self._row_maps, self.input_name, cost, kept, self.input_shape[2]
        )
        prefix = set(split.prefix.steps) if split is not None else set()
        # The row split replaces the first steps of the main sequence, never the side branch.
        if (
            split is not None
            and self._branch.main.steps[: len(prefix)] == split.prefix.steps
            and len(prefix) <= self._branch.launch_after + 1
        ):
            self._split = split
        summary = "none"
        if self._split is not None:
            summary = f"{len(prefix)} steps, {100 * self._split.share:.0f}% of the MACs"
        logger.debug(
            "side branch: %d steps, %.0f%% of the MACs; row split: %s",
            len(self._branch.side.steps),
            100 * self._branch.side_share,
            summary,
        )
        return True

    def _step_macs(self) -> list[float]:
        macs: list[float] = []
        for _, names, _ in self._steps:
            spec = self._conv_specs.get(names[1]) if len(names) > 1 else None
            shape = self._input_shapes.get(names[1]) if spec is not None else None
            if spec is None or shape is None:
                macs.append(0.0)
                continue
            weight = getattr(self, self._buffers_by_name[names[1]])
            stride = spec[1]
            pixels = shape[0] * (shape[2] // stride[0]) * (shape[3] // stride[1])
            macs.append(float(pixels * weight[0].numel() * weight.shape[0]))
        return macs

    def _pool(self) -> ThreadPoolExecutor:
        """The helper thread, made in this process (a thread does not survive a fork, e.g.
        into a Celery prefork child, and a pool inherited without it would never run)."""
        if self._branch_pool is None or self._branch_pid != os.getpid():
            # One OpenMP thread there too: a thread keeps the team size it first sees (measured:
            # started while this thread ran 2, it stays at 2), and its operators would then
            # compete with this thread's.
            self._branch_pool = ThreadPoolExecutor(
                1, thread_name_prefix="detector-branch", initializer=torch.set_num_threads,
                initargs=(1,),
            )
            self._branch_pid = os.getpid()
        return self._branch_pool

    def _weights(self, device: torch.device) -> dict[str, torch.Tensor]:
        env = {name: getattr(self, attr) for name, attr in self._buffers_by_name.items()}
        if self._packed and device.type == "cpu":
            env.update(self._packed)
        return env

    def forward(self, x: torch.Tensor, branch: bool = False) -> torch.Tensor:
        """Run the graph on an NCHW float tensor; returns the graph's (first) output.

        ``branch=True`` (after :meth:`plan_branch`) runs the planned side branch on a helper
        thread while this thread runs the rest; the results are the same."""
        weights = self._weights(x.device)
        plan = self._branch if branch else None
        if plan is None:
            return self._run(self._sequential, {**weights, self.input_name: x})[self.output_name]
        pool = self._pool()
        env = {**weights, self.input_name: x}
        inference = torch.is_inference_mode_enabled()
        start = 0
        if self._split is not None and x.shape[0] == 1:
            env[self._split.cut] = self._split_rows(self._split, x, weights, pool, inference)
            start = len(self._split.prefix.steps)
        launch = plan.launch_after + 1  # first main position after the side branch's inputs
        self._run(plan.main, env, start, launch)
        side = pool.submit(
            self._run_side, plan, {**weights, **{n: env[n] for n in plan.side_inputs}}, inference
        )
        self._run(plan.main, env, launch, plan.join_before)
        env.update(side.result())
        return self._run(plan.main, env, plan.join_before)[self.output_name]

    def _split_rows(
        self,
        split: RowSplit,
        x: torch.Tensor,
        weights: dict[str, torch.Tensor],
        pool: ThreadPoolExecutor,
        inference: bool,
    ) -> torch.Tensor:
        """The cut tensor of the row split: bottom tile on the helper, top tile here."""
        top_end, bottom_start, half = split.tiles(int(x.shape[2]))

        def tile(rows: torch.Tensor) -> torch.Tensor:
            env = self._run(split.prefix, {**weights, self.input_name: rows})
            return env[split.cut]

        def bottom() -> torch.Tensor:
            with torch.inference_mode(inference):
                return tile(x[:, :, bottom_start:, :])

        lower = pool.submit(bottom)
        upper = tile(x[:, :, :top_end, :])[:, :, :half, :]
        skip = half - bottom_start // split.jump
        rows = torch.cat([upper, lower.result()[:, :, skip:, :]], dim=2)
        return rows.contiguous(memory_format=torch.channels_last)

    def _run(
        self, order: StepOrder, env: dict[str, torch.Tensor], begin: int = 0, end: int | None = None
    ) -> dict[str, torch.Tensor]:
        """Run positions ``begin``..``end`` of ``order`` in ``env``, dropping dead tensors."""
        positions = slice(begin, end)
        for i, dead in zip(order.steps[positions], order.release[positions], strict=True):
            op, names, out = self._steps[i]
            env[out] = op([env[n] for n in names])
            for name in dead:
                del env[name]
        return env

    def _run_side(
        self, plan: BranchPlan, env: dict[str, torch.Tensor], inference: bool
    ) -> dict[str, torch.Tensor]:
        with torch.inference_mode(inference):
            env = self._run(plan.side, env)
        return {name: env[name] for name in plan.side_outputs}
