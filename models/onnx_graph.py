"""Writes the serving net (LoRA folded in, every head it has) as an ONNX graph of ONNX Runtime's fused CPU ops.

The graph is written node by node from our own weights rather than traced, so each layer is
exactly one fused `Attention` (QKV projection + scaled dot product + mask), two `MatMul`s with a
`BiasGelu` between, and two `SkipLayerNormalization`s: the ops ONNX Runtime's transformer
optimizer would otherwise have to find by pattern matching. The word-embedding lookup stays
outside (the 4-bit table is read by numpy, models/onnx_runtime.py); the graph starts at the
looked-up rows. Run as `python -m models.onnx_graph` it is the exporter child process that
models/onnx_runtime.py starts on first use, so the serving process never imports torch.

Int8 projections can be smoothed first (SmoothQuant, Xiao et al. 2022): per input channel j,
s_j = max|x_j|^a / max|W_j|^(1-a), the activation is divided by s and the weight's row j
multiplied by it, which leaves the fp32 function unchanged but moves the few outlier channels'
range from the per-tensor activation scale into the per-channel weight scales. max|x_j| comes
from running the fp32 net over the shipped calibration texts (models/calibration.py).

Int8 activations are quantized per token, not per batch (per_row_activations), so a text's answer
does not depend on which other texts share its batch; or, on the nodes a preset names, with one constant
scale calibrated at export on the same texts (static_activations), which cannot depend on the batch either
and needs none of the per-token ops.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.encoder import EncoderLayer, LeanNet

if TYPE_CHECKING:
    from torch import nn

OPSET = 17
# An IR version every onnxruntime we accept can load (onnx writes its newest by default).
IR_VERSION = 9
MS_DOMAIN = "com.microsoft"
# Graph inputs: the word-embedding rows of the batch, and its 0/1 attention mask.
WORDS_INPUT = "words"
MASK_INPUT = "attention_mask"
HEAD_SUFFIX = "_head"
# The quantizable node kinds of a layer (as models.onnx_runtime.INT8_KINDS) and the Linear each one runs.
NODE_MODULES = {"attention": "qkv", "attn_out": "attn_out", "ffn_in": "ffn_in", "ffn_out": "ffn_out"}
# The kinds whose outlier input channels can be split off into fp32: FFN-out, whose input channels are the
# FFN's hidden units (each one a column of FFN-in and a row of FFN-out, so they can be moved out exactly).
SPLIT_KINDS = ("ffn_out",)
# Calibration batches: length-sorted, so little padding (padding is left out of the maxima anyway).
CALIBRATION_BATCH = 32


def head_modules(net: LeanNet) -> dict[str, nn.Linear]:
    """Every Linear head of the net by output name ("sentiment_head" -> "sentiment"), in definition order."""
    from torch import nn

    return {
        name.removesuffix(HEAD_SUFFIX): module
        for name, module in net.named_children()
        if name.endswith(HEAD_SUFFIX) and isinstance(module, nn.Linear)
    }


def _array(tensor) -> np.ndarray:
    return tensor.detach().float().contiguous().numpy()


class _Graph:
    """Accumulates nodes and initializers under unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: Iterable[str], name: str, *, outputs: int = 1, domain: str = "", **attrs) -> str:
        outs = [name] + [f"{name}:{i}" for i in range(1, outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=name, domain=domain or None, **attrs))
        return name


def activation_maxima(net: LeanNet, ids: Sequence[Sequence[int]], pad_id: int) -> dict[str, np.ndarray]:
    """Largest |input| per channel of every quantizable node ("layer3.ffn_out" -> [in]) over the real
    (unpadded) tokens of `ids`, run through the fp32 net in length-sorted batches."""
    import torch

    from models.train import pad

    maxima: dict[str, torch.Tensor] = {}
    current: dict[str, torch.Tensor] = {}
    hooks = []
    for i, layer in enumerate(net.layers):
        for kind, attr in NODE_MODULES.items():
            name = f"layer{i}.{kind}"

            def record(module: nn.Module, args: tuple, name: str = name) -> None:
                x = args[0][current["mask"]].abs().amax(dim=0)
                maxima[name] = x if name not in maxima else torch.maximum(maxima[name], x)

            hooks.append(getattr(layer, attr).register_forward_pre_hook(record))
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
    try:
        with torch.inference_mode():
            for start in range(0, len(order), CALIBRATION_BATCH):
                input_ids, mask = pad(
                    [ids[i] for i in order[start : start + CALIBRATION_BATCH]], pad_id, torch.device("cpu")
                )
                current["mask"] = mask.bool()
                net.features(input_ids, mask)
    finally:
        for hook in hooks:
            hook.remove()
    return {name: maxima[name].float().numpy() for name in sorted(maxima, key=_node_order)}


def _node_order(name: str) -> tuple[int, int]:
    layer, kind = name.split(".")
    return int(layer.removeprefix("layer")), list(NODE_MODULES).index(kind)


def smoothing_scales(
    net: LeanNet, maxima: Mapping[str, np.ndarray], alpha: float, nodes: Iterable[str]
) -> dict[str, np.ndarray]:
    """s = max|x|^alpha / max|W row|^(1 - alpha) per input channel of each node in `nodes` (fp32)."""
    out = {}
    for name in nodes:
        layer, kind = name.split(".")
        module = getattr(net.layers[int(layer.removeprefix("layer"))], NODE_MODULES[kind])
        # torch keeps W as [out, in]: input channel j is column j.
        w_max = np.maximum(np.abs(_array(module.weight)).max(axis=0), 1e-5)
        x_max = np.maximum(maxima[name], 1e-5)
        out[name] = (x_max**alpha / w_max ** (1.0 - alpha)).astype(np.float32)
    return out


def outlier_channels(maxima: Mapping[str, np.ndarray], count: int, nodes: Iterable[str]) -> dict[str, np.ndarray]:
    """The `count` input channels with the largest |x| of each FFN-out node in `nodes` (ascending order)."""
    return {
        name: np.sort(np.argsort(-maxima[name], kind="stable")[:count]).astype(np.int64)
        for name in nodes
        if count > 0 and name.split(".")[1] in SPLIT_KINDS
    }


def build_graph(
    net: LeanNet, smooth: Mapping[str, np.ndarray] | None = None, outliers: Mapping[str, np.ndarray] | None = None
) -> onnx.ModelProto:
    """The fp32 graph: words [B, T, H] float + attention_mask [B, T] int32 -> one logits output per head.

    `smooth` maps node names to per-input-channel scales s (smoothing_scales): that node's input is
    divided by s and its weight rows multiplied by s; for attention-out the division is folded into
    the V projection (attention output is linear in V), for the others it is a `Mul` node.
    `outliers` maps FFN-out nodes to input channels (FFN hidden units) taken out of the int8 MatMuls:
    those units move to a small fp32 FFN of their own (`ffn_side`, same weights) whose output is added
    back, so the int8 activation ranges never see them (the decomposition of LLM.int8(), made exact and
    static: the units are the calibration's largest)."""
    smooth = dict(smooth or {})
    outliers = dict(outliers or {})
    unknown = set(smooth) - {f"layer{i}.{k}" for i in range(len(net.layers)) for k in NODE_MODULES}
    unknown |= set(outliers) - {f"layer{i}.{k}" for i in range(len(net.layers)) for k in SPLIT_KINDS}
    if unknown:
        raise ValueError(f"no quantizable node named {sorted(unknown)[:3]}")
    g = _Graph()

    def divided(x: str, node: str) -> str:
        """`x` / s of `node` (a Mul by the reciprocal), or `x` itself when the node is not smoothed."""
        if node not in smooth:
            return x
        inverse = g.const(node + ".smooth.inverse", (1.0 / smooth[node]).astype(np.float32))
        return g.node("Mul", [x, inverse], node + ".smooth")

    def weight(node: str, w: np.ndarray) -> np.ndarray:
        """ONNX-layout weight [in, out] with its rows multiplied by s when `node` is smoothed."""
        return w * smooth[node][:, None] if node in smooth else w

    hidden = net.positions.shape[1]
    eps = float(net.emb_norm.eps)
    # Embeddings: word rows + token type 0 + positions[:T], then LayerNorm (as LeanNet.forward).
    pos = g.const("embeddings.positions", _array(net.positions))
    g.const("embeddings.token_type", _array(net.token_type))
    g.const("embeddings.norm.weight", _array(net.emb_norm.weight))
    g.const("embeddings.norm.bias", _array(net.emb_norm.bias))
    g.const("const.zero", np.array([0], dtype=np.int64))
    g.const("const.one", np.array([1], dtype=np.int64))
    seq_len = g.node("Shape", [WORDS_INPUT], "embeddings.seq_len", start=1, end=2)
    positions = g.node("Slice", [pos, "const.zero", seq_len, "const.zero"], "embeddings.positions_used")
    x = g.node("Add", [WORDS_INPUT, "embeddings.token_type"], "embeddings.add_type")
    x = g.node("Add", [x, positions], "embeddings.add_positions")
    x = g.node(
        "LayerNormalization",
        [x, "embeddings.norm.weight", "embeddings.norm.bias"],
        "embeddings.norm",
        axis=-1,
        epsilon=eps,
    )
    for i, module in enumerate(net.layers):
        layer = cast(EncoderLayer, module)
        p = f"layer{i}."
        # Attention wants [in, 3*H] with Q, K, V side by side: our fused qkv weight [3*H, in], transposed.
        qkv_weight = np.array(weight(p + "attention", _array(layer.qkv.weight).T))  # a copy: V is scaled below
        qkv_bias = _array(layer.qkv.bias)
        if p + "attn_out" in smooth:
            # Attention-out's input is a convex mix of V rows: V's columns (and bias) / s divide it exactly.
            inverse = 1.0 / smooth[p + "attn_out"]
            qkv_weight[:, 2 * hidden :] = qkv_weight[:, 2 * hidden :] * inverse
            qkv_bias = qkv_bias.copy()
            qkv_bias[2 * hidden :] = qkv_bias[2 * hidden :] * inverse
        g.const(p + "qkv.weight", qkv_weight)
        g.const(p + "qkv.bias", qkv_bias)
        attn = g.node(
            "Attention",
            [divided(x, p + "attention"), p + "qkv.weight", p + "qkv.bias", MASK_INPUT],
            p + "attention",
            domain=MS_DOMAIN,
            num_heads=layer.heads,
        )
        g.const(p + "attn_out.weight", weight(p + "attn_out", _array(layer.attn_out.weight).T))
        proj = g.node("MatMul", [attn, p + "attn_out.weight"], p + "attn_out")
        for norm, bias in (("attn_norm", "attn_out"), ("out_norm", "ffn_out")):
            g.const(f"{p}{norm}.weight", _array(getattr(layer, norm).weight))
            g.const(f"{p}{norm}.beta", _array(getattr(layer, norm).bias))
            g.const(f"{p}{bias}.bias", _array(getattr(layer, bias).bias))
        x = g.node(
            "SkipLayerNormalization",
            [proj, x, p + "attn_norm.weight", p + "attn_norm.beta", p + "attn_out.bias"],
            p + "attn_norm",
            domain=MS_DOMAIN,
            epsilon=float(layer.attn_norm.eps),
        )
        w_in, b_in, w_out = _array(layer.ffn_in.weight).T, _array(layer.ffn_in.bias), _array(layer.ffn_out.weight).T
        # FFN channels split off (outliers) leave the int8 pair of MatMuls and get a small fp32 pair of their own.
        picked = outliers.get(p + "ffn_out", np.zeros(0, dtype=np.int64))
        kept = np.setdiff1d(np.arange(w_in.shape[1]), picked)
        if p + "ffn_out" in smooth:
            smooth[p + "ffn_out"] = smooth[p + "ffn_out"][kept]
        g.const(p + "ffn_in.weight", weight(p + "ffn_in", w_in[:, kept]))
        g.const(p + "ffn_in.bias", b_in[kept])
        g.const(p + "ffn_out.weight", weight(p + "ffn_out", w_out[kept]))
        inner = g.node("MatMul", [divided(x, p + "ffn_in"), p + "ffn_in.weight"], p + "ffn_in")
        inner = g.node("BiasGelu", [inner, p + "ffn_in.bias"], p + "gelu", domain=MS_DOMAIN)  # exact (erf) GELU
        out = g.node("MatMul", [divided(inner, p + "ffn_out"), p + "ffn_out.weight"], p + "ffn_out")
        if len(picked):
            side = g.node("MatMul", [x, g.const(p + "ffn_side.in.weight", w_in[:, picked])], p + "ffn_side.in")
            side = g.node(
                "BiasGelu", [side, g.const(p + "ffn_side.in.bias", b_in[picked])], p + "ffn_side.gelu", domain=MS_DOMAIN
            )
            side = g.node("MatMul", [side, g.const(p + "ffn_side.out.weight", w_out[picked])], p + "ffn_side.out")
            out = g.node("Add", [out, side], p + "ffn_side.sum")
        x = g.node(
            "SkipLayerNormalization",
            [out, x, p + "out_norm.weight", p + "out_norm.beta", p + "ffn_out.bias"],
            p + "out_norm",
            domain=MS_DOMAIN,
            epsilon=float(layer.out_norm.eps),
        )
    # Mean over real tokens, L2-normalised (eps as F.normalize), times the adapter's feature scale.
    keep = g.node("Cast", [MASK_INPUT], "pool.mask", to=TensorProto.FLOAT)
    keep3 = g.node("Unsqueeze", [keep, g.const("pool.axis2", np.array([2], dtype=np.int64))], "pool.mask3")
    summed = g.node("ReduceSum", [g.node("Mul", [x, keep3], "pool.masked"), "const.one"], "pool.sum", keepdims=0)
    count = g.node("ReduceSum", [keep3, "const.one"], "pool.count", keepdims=0)
    count = g.node("Max", [count, g.const("pool.min_count", np.array(1.0, dtype=np.float32))], "pool.count_min1")
    mean = g.node("Div", [summed, count], "pool.mean")
    norm = g.node("ReduceL2", [mean], "pool.l2", axes=[-1], keepdims=1)
    norm = g.node("Max", [norm, g.const("pool.eps", np.array(1e-12, dtype=np.float32))], "pool.l2_eps")
    feats = g.node("Div", [mean, norm], "pool.normalized")
    scale = np.array(net.adapter.feature_scale, dtype=np.float32)
    feats = g.node("Mul", [feats, g.const("pool.feature_scale", scale)], "features")
    outputs = []
    for name, head in head_modules(net).items():
        g.const(f"{name}.weight", _array(head.weight))
        g.const(f"{name}.bias", _array(head.bias))
        g.nodes.append(helper.make_node("Gemm", [feats, f"{name}.weight", f"{name}.bias"], [name], name=name, transB=1))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", head.out_features]))
    inputs = [
        helper.make_tensor_value_info(WORDS_INPUT, TensorProto.FLOAT, ["batch", "tokens", hidden]),
        helper.make_tensor_value_info(MASK_INPUT, TensorProto.INT32, ["batch", "tokens"]),
    ]
    graph = helper.make_graph(g.nodes, "listener", inputs, outputs, g.initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
        producer_name="listener",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model)
    return model


def _links(model: onnx.ModelProto) -> tuple[dict[str, onnx.NodeProto], dict[str, list[onnx.NodeProto]]]:
    """(tensor -> the node producing it, tensor -> the nodes reading it) of `model`'s graph."""
    producers = {out: n for n in model.graph.node for out in n.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    return producers, consumers


def _matmul_rescale(
    node: onnx.NodeProto, producers: Mapping[str, onnx.NodeProto], consumers: Mapping[str, list[onnx.NodeProto]]
) -> tuple[onnx.NodeProto, onnx.NodeProto, onnx.NodeProto]:
    """The (Cast, Mul, Mul) after a MatMulInteger of quantize_dynamic: int32 -> float, times the product of the
    activation scale and the weight scales (the second Mul, whose input[1] holds the weight scales)."""
    cast = consumers[node.output[0]][0]
    rescale = consumers[cast.output[0]][0]
    product = producers[rescale.input[1]]
    if cast.op_type != "Cast" or rescale.op_type != "Mul" or product.op_type != "Mul":
        raise ValueError(f"unexpected quantized MatMul pattern at {node.name}")
    return cast, rescale, product


def per_row_activations(model: onnx.ModelProto) -> int:
    """Rewrites every dynamically quantized MatMul and Attention of `model` (in place) to quantize its input per
    row (token) instead of per tensor; returns how many it rewrote.

    ONNX Runtime's dynamic int8 computes one activation scale over the whole [batch, tokens, in] input, so a
    text's answer depended on which other texts shared its batch (up to 0.33 in complaint probability on the
    complaints val set). Here each token gets its own symmetric scale max|x| / 127, stored as uint8 around a
    fixed zero point of 128, which MatMulInteger takes as a scalar; the int32 product is scaled back by the
    row's and the weight column's scale. QAttention's kernel takes one input scale only, so a quantized
    Attention becomes this per-row QKV projection followed by MultiHeadAttention (the same attention on the
    projected Q, K, V, with the same bias and padding mask)."""
    producers, consumers = _links(model)
    if _ZERO_128 not in {t.name for t in model.graph.initializer}:
        model.graph.initializer.append(numpy_helper.from_array(np.array(128, dtype=np.uint8), _ZERO_128))
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(1 / 127, dtype=np.float32), "per_row.inverse_127"),
            numpy_helper.from_array(np.array(1.0, dtype=np.float32), _ONE),
            numpy_helper.from_array(np.array(1e-8, dtype=np.float32), "per_row.min_max"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "per_row.last_axis"),
        ]
    )
    drop: set[int] = set()
    added: list[onnx.NodeProto] = []
    for node in model.graph.node:
        quantizer = producers.get(node.input[0]) if node.input else None
        if quantizer is None or quantizer.op_type != "DynamicQuantizeLinear":
            continue
        if len(consumers[quantizer.output[0]]) != 1:
            raise ValueError(f"{quantizer.name} feeds more than one node")
        x = quantizer.input[0]
        if node.op_type == "MatMulInteger":
            cast, rescale, scales = _matmul_rescale(node, producers, consumers)
            added += _per_row_matmul(node.name, x, node.input[1], node.input[3], scales.input[1], rescale.output[0])
            drop |= {id(quantizer), id(node), id(cast), id(rescale), id(scales)}
        elif node.op_type == "QAttention":
            # QAttention inputs: x_q, W_q, bias, x scale, W scale, mask, x zero point, W zero point.
            weights, bias, w_scale, mask, w_zero = (node.input[i] for i in (1, 2, 4, 5, 7))
            p = node.name + ".per_row"
            heads = next(a.i for a in node.attribute if a.name == "num_heads")
            added += _per_row_matmul(node.name, x, weights, w_zero, w_scale, p + ".qkv")
            added += [
                helper.make_node("Split", [p + ".qkv"], [p + ".q", p + ".k", p + ".v"], name=p + ".split", axis=-1),
                helper.make_node(
                    "MultiHeadAttention",
                    [p + ".q", p + ".k", p + ".v", bias, mask],
                    [node.output[0]],
                    name=p + ".attention",
                    domain=MS_DOMAIN,
                    num_heads=heads,
                ),
            ]
            drop |= {id(quantizer), id(node)}
    kept = [n for n in model.graph.node if id(n) not in drop] + added
    del model.graph.node[:]
    model.graph.node.extend(_topological(kept, model))
    return sum(1 for n in added if n.op_type == "MatMulIntegerToFloat")


# The fixed zero point of per-row quantized activations (symmetric int8 stored as uint8).
_ZERO_128 = "per_row.zero_point"
_ONE = "per_row.one"


def _per_row_matmul(
    name: str, x: str, weights: str, weight_zero: str, weight_scale: str, output: str
) -> list[onnx.NodeProto]:
    """Nodes computing `output` = x @ dequantized weights with `x` [B, T, in] quantized per row (token)."""
    p = name + ".per_row"

    def node(op: str, inputs: list[str], suffix: str, **attrs) -> onnx.NodeProto:
        return helper.make_node(op, inputs, [p + suffix], name=p + suffix, **attrs)

    return [
        node("Abs", [x], ".abs"),
        node("ReduceMax", [p + ".abs"], ".max", axes=[-1], keepdims=1),  # [B, T, 1]
        node("Max", [p + ".max", "per_row.min_max"], ".max_positive"),
        node("Mul", [p + ".max_positive", "per_row.inverse_127"], ".scale"),
        node("Shape", [x], ".in_shape"),
        node("Shape", [x], ".rows_shape", end=-1),
        node("Gather", [p + ".in_shape", "per_row.last_axis"], ".width"),
        node("Concat", ["per_row.last_axis", p + ".width"], ".flat_shape", axis=0),
        node("Reshape", [x, p + ".flat_shape"], ".flat"),  # [B*T, in]
        node("Reshape", [p + ".scale", "per_row.last_axis"], ".flat_scale"),  # [B*T]
        node("Shape", [p + ".flat_scale"], ".rows"),
        node("Expand", [_ZERO_128, p + ".rows"], ".zero_points"),
        node("QuantizeLinear", [p + ".flat", p + ".flat_scale", p + ".zero_points"], ".quantized", axis=0),
        # int32 accumulation, then x column scale, in one kernel; the row scale is applied after (it takes none).
        node(
            "MatMulIntegerToFloat",
            [p + ".quantized", weights, _ONE, weight_scale, _ZERO_128, weight_zero],
            ".column_scaled",
            domain=MS_DOMAIN,
        ),  # [B*T, out]
        node("Shape", [weights], ".out_width", start=1),
        node("Concat", [p + ".rows_shape", p + ".out_width"], ".out_shape", axis=0),
        node("Reshape", [p + ".column_scaled", p + ".out_shape"], ".unflat"),
        helper.make_node("Mul", [p + ".unflat", p + ".scale"], [output], name=p + ".row_scaled"),
    ]


def calibration_batches(
    ids: Sequence[Sequence[int]], pad_id: int, rows: Callable[[np.ndarray], np.ndarray]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(words [B, T, H], mask [B, T] int32) graph inputs for token ids, in length-sorted batches of
    CALIBRATION_BATCH; `rows` looks up the word-embedding rows of an id array."""
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
    for start in range(0, len(order), CALIBRATION_BATCH):
        batch = [ids[i] for i in order[start : start + CALIBRATION_BATCH]]
        width = max(len(x) for x in batch)
        input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int32)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        yield np.ascontiguousarray(rows(input_ids), dtype=np.float32), mask


def calibrate_token_maxima(
    model: onnx.ModelProto, batches: Iterable[tuple[np.ndarray, np.ndarray]], nodes: Iterable[str]
) -> dict[str, np.ndarray]:
    """Largest |input| of each named Attention/MatMul node of the fp32 `model`, one value per real (unpadded)
    token of the calibration `batches` ((words [B, T, H], mask [B, T]) pairs), read from ONNX Runtime.

    The input is the one the node sees, so smoothing (x / s) and the FFN outlier split are in it already."""
    import onnxruntime as ort

    wanted = list(nodes)
    inputs = {n.name: n.input[0] for n in model.graph.node if n.name in wanted}
    if set(wanted) - set(inputs):
        raise ValueError(f"no node named {sorted(set(wanted) - set(inputs))[:3]}")
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for tensor in dict.fromkeys(inputs.values()):
        probe.graph.output.append(helper.make_tensor_value_info(tensor, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    tensors = list(dict.fromkeys(inputs.values()))
    seen: dict[str, list[np.ndarray]] = {t: [] for t in tensors}
    for words, mask in batches:
        for tensor, value in zip(tensors, session.run(tensors, {WORDS_INPUT: words, MASK_INPUT: mask}), strict=True):
            seen[tensor].append(np.abs(value).max(axis=-1)[mask.astype(bool)])
    return {name: np.concatenate(seen[tensor]) for name, tensor in inputs.items()}


def static_scales(token_maxima: Mapping[str, np.ndarray], percentile: float = 100.0) -> dict[str, float]:
    """One activation scale per node: the `percentile` of its calibration tokens' largest |input|, / 127
    (100: the largest; lower clips the rare tokens with a wider range)."""
    return {name: float(max(np.percentile(values, percentile), 1e-8) / 127) for name, values in token_maxima.items()}


def static_activations(model: onnx.ModelProto, scales: Mapping[str, float]) -> int:
    """Rewrites the dynamically quantized MatMuls and Attentions of `model` named in `scales` (in place) to
    quantize their input with that constant scale; returns how many it rewrote.

    A constant scale needs no per-token range (Abs, ReduceMax, rescale) and cannot depend on the batch. It goes
    into MatMulIntegerToFloat's activation scale, or QAttention's (which takes one scale, constant here, so the
    fused int8 attention kernel is used as is, without the Split + MultiHeadAttention of the per-token path).
    A smoothing Mul in front stays a Mul: folding it into the QuantizeLinear as a per-channel scale along the
    last axis is one op fewer but ONNX Runtime 1.31 runs that per element (about 4x slower graph, measured)."""
    producers, consumers = _links(model)
    constants = {t.name: t for t in model.graph.initializer}
    if _ZERO_128 not in constants:
        model.graph.initializer.append(numpy_helper.from_array(np.array(128, dtype=np.uint8), _ZERO_128))
    drop: set[int] = set()
    added: list[onnx.NodeProto] = []
    done = set()
    for node in model.graph.node:
        name = node.name.removesuffix("_quant")
        quantizer = producers.get(node.input[0]) if node.input else None
        if name not in scales or quantizer is None or quantizer.op_type != "DynamicQuantizeLinear":
            continue
        p = name + ".static"
        x = quantizer.input[0]
        scale = model.graph.initializer.add()
        scale.CopyFrom(numpy_helper.from_array(np.array(scales[name], dtype=np.float32), p + ".scale"))
        added.append(helper.make_node("QuantizeLinear", [x, scale.name, _ZERO_128], [p + ".q"], name=p + ".q"))
        if node.op_type == "MatMulInteger":
            cast, rescale, product = _matmul_rescale(node, producers, consumers)
            added.append(
                helper.make_node(
                    "MatMulIntegerToFloat",
                    [p + ".q", node.input[1], scale.name, product.input[1], _ZERO_128, node.input[3]],
                    [rescale.output[0]],
                    name=p + ".matmul",
                    domain=MS_DOMAIN,
                )
            )
            drop |= {id(quantizer), id(node), id(cast), id(rescale), id(product)}
        elif node.op_type == "QAttention":
            inputs = list(node.input)
            inputs[0], inputs[3], inputs[6] = p + ".q", scale.name, _ZERO_128
            del node.input[:]
            node.input.extend(inputs)
            drop.add(id(quantizer))
        else:
            raise ValueError(f"unexpected quantized node {node.name} ({node.op_type})")
        done.add(name)
    if set(scales) - done:
        raise ValueError(f"no dynamically quantized node named {sorted(set(scales) - done)[:3]}")
    kept = [n for n in model.graph.node if id(n) not in drop] + added
    del model.graph.node[:]
    model.graph.node.extend(_topological(kept, model))
    return len(done)


def _topological(nodes: list[onnx.NodeProto], model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """`nodes` in an order where every input is produced before it is read (ONNX requires it)."""
    ready = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer} | {""}
    out: list[onnx.NodeProto] = []
    pending = list(nodes)
    while pending:
        left = []
        for n in pending:
            if all(i in ready for i in n.input):
                out.append(n)
                ready.update(n.output)
            else:
                left.append(n)
        if len(left) == len(pending):
            raise ValueError(f"graph has a cycle or a missing input at {left[0].name}")
        pending = left
    return out


def quantize_nodes(
    source: Path,
    target: Path,
    names: Iterable[str],
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
    per_row: bool = True,
    static: Mapping[str, float] | None = None,
) -> list[str]:
    """Dynamic int8 (per-channel weights; activations quantized per token, per_row_activations) on the named
    Attention and MatMul nodes ("layer3.ffn_out"); everything else stays fp32. Returns the names quantized.

    `per_channel` / `reduce_range` (7-bit weights, for CPUs without VNNI) are ONNX Runtime's options and
    `per_row=False` its per-tensor activation scales; serving uses the defaults, benchmarks/int8_sensitivity.py
    compares them."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    wanted = set(names)
    model = onnx.load(str(source))
    present = {n.name for n in model.graph.node if n.op_type in ("Attention", "MatMul")}
    if wanted - present:
        raise ValueError(f"no Attention/MatMul node named {sorted(wanted - present)[:3]}")
    chosen = [n.name for n in model.graph.node if n.name in wanted]
    quantize_dynamic(
        source,
        target,
        op_types_to_quantize=["Attention", "MatMul"],
        per_channel=per_channel,
        reduce_range=reduce_range,
        weight_type=QuantType.QInt8,
        nodes_to_quantize=chosen,
        # Shape inference cannot type the outputs of the com.microsoft ops; everything here is float.
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )
    if static or per_row:
        quantized = onnx.load(str(target))
        if static:
            static_activations(quantized, static)
        if per_row:
            per_row_activations(quantized)
        onnx.checker.check_model(quantized)
        onnx.save(quantized, str(target))
    return chosen


def export(
    backbone: Path,
    adapter: Path,
    out: Path,
    int8_nodes: Iterable[str] = (),
    *,
    smooth_alpha: float | None = None,
    smooth_nodes: Iterable[str] = (),
    outliers: int = 0,
    calibration: Path | None = None,
    static_nodes: Iterable[str] = (),
    static_percentile: float = 100.0,
    weight_bits: int = 8,
) -> dict:
    """Write `out/model.onnx` from the cached backbone and an adapter; returns what it wrote (heads, int8 nodes,
    smoothed nodes, static activation scales). With `smooth_alpha`, `smooth_nodes` are smoothed with maxima from
    the calibration texts; the int8 nodes among `static_nodes` get constant activation scales calibrated on the
    same texts (static_scales at `static_percentile`), the other int8 nodes per-token ones.
    `weight_bits` = 7 quantizes int8 weights into [-64, 64] (models.cpu.int8_weight_bits says when)."""
    from models.adapter_io import load_adapter
    from models.calibration import CALIBRATION_FILE, load_texts
    from models.encoder import load_lean_net
    from models.spm import SPM_FILE, SentencePieceTokenizer
    from models.train import MAX_TOKENS

    state, config, _ = load_adapter(adapter)
    net = load_lean_net(backbone, state, config)
    smoothed = list(dict.fromkeys(smooth_nodes)) if smooth_alpha is not None else []
    names = list(dict.fromkeys(int8_nodes))
    static = [n for n in dict.fromkeys(static_nodes) if n in set(names)]
    scales: dict[str, np.ndarray] = {}
    split: dict[str, np.ndarray] = {}
    ids: list[list[int]] = []
    pad_id = 0
    if smoothed or static:
        tokenizer = SentencePieceTokenizer(backbone / SPM_FILE)
        ids = tokenizer.encode(load_texts(calibration or CALIBRATION_FILE), MAX_TOKENS)
        pad_id = tokenizer.pad_token_id
    if smoothed:
        maxima = activation_maxima(net, ids, pad_id)
        scales = smoothing_scales(net, maxima, float(cast(float, smooth_alpha)), smoothed)
        split = outlier_channels(maxima, outliers, smoothed)
    model = build_graph(net, scales, split)
    heads = {name: int(h.out_features) for name, h in head_modules(net).items()}
    activation_scales: dict[str, float] = {}
    if static:
        import torch

        lookup = net.words

        def rows(input_ids: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return lookup(torch.from_numpy(input_ids)).float().numpy()

        maxima_by_token = calibrate_token_maxima(model, calibration_batches(ids, pad_id, rows), static)
        activation_scales = static_scales(maxima_by_token, static_percentile)
    del net
    target = out / "model.onnx"
    if names:
        fp32 = out / "fp32.onnx"
        onnx.save(model, str(fp32))
        quantized = quantize_nodes(fp32, target, names, reduce_range=weight_bits == 7, static=activation_scales)
        fp32.unlink()
    else:
        onnx.save(model, str(target))
        quantized = []
    return {
        "heads": heads,
        "int8_nodes": quantized,
        "smoothed_nodes": smoothed,
        "outlier_channels": {name: idx.tolist() for name, idx in split.items()},
        "static_scales": activation_scales,
    }


def main(argv: list[str] | None = None) -> int:
    """Exporter child process: writes the graph and prints a JSON summary on its last line."""
    parser = argparse.ArgumentParser(prog="python -m models.onnx_graph", description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", type=Path, required=True)
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--int8-nodes", default="", help="comma-separated node names to run in int8")
    parser.add_argument("--smooth-alpha", type=float, default=None, help="smoothing exponent a (none: no smoothing)")
    parser.add_argument("--smooth-nodes", default="", help="comma-separated node names to smooth")
    parser.add_argument("--outliers", type=int, default=0, help="FFN input channels kept fp32 per smoothed node")
    parser.add_argument("--calibration", type=Path, default=None, help="calibration texts (default: the shipped)")
    parser.add_argument("--static-nodes", default="", help="comma-separated int8 nodes with constant activation scales")
    parser.add_argument("--static-percentile", type=float, default=100.0, help="calibration percentile of those")
    parser.add_argument("--weight-bits", type=int, choices=(7, 8), default=8, help="int8 weight width")
    args = parser.parse_args(argv)
    names = [x for x in args.int8_nodes.split(",") if x.strip()]
    summary = export(
        args.backbone,
        args.adapter,
        args.out,
        names,
        smooth_alpha=args.smooth_alpha,
        smooth_nodes=[x for x in args.smooth_nodes.split(",") if x.strip()],
        outliers=args.outliers,
        calibration=args.calibration,
        static_nodes=[x for x in args.static_nodes.split(",") if x.strip()],
        static_percentile=args.static_percentile,
        weight_bits=args.weight_bits,
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
