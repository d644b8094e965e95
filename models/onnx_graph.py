"""Writes the serving net (LoRA folded in, every head it has) as an ONNX graph of ONNX Runtime's fused CPU ops.

The graph is written node by node from our own weights rather than traced, so each layer is
exactly one fused `Attention` (QKV projection + scaled dot product + mask), two `MatMul`s with a
`BiasGelu` between, and two `SkipLayerNormalization`s: the ops ONNX Runtime's transformer
optimizer would otherwise have to find by pattern matching. The word-embedding lookup stays
outside (the 4-bit table is read by numpy, models/onnx_runtime.py); the graph starts at the
looked-up rows. Run as `python -m models.onnx_graph` it is the exporter child process that
models/onnx_runtime.py starts on first use, so the serving process never imports torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
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


def build_graph(net: LeanNet) -> onnx.ModelProto:
    """The fp32 graph: words [B, T, H] float + attention_mask [B, T] int32 -> one logits output per head."""
    g = _Graph()
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
        g.const(p + "qkv.weight", _array(layer.qkv.weight).T)
        g.const(p + "qkv.bias", _array(layer.qkv.bias))
        attn = g.node(
            "Attention",
            [x, p + "qkv.weight", p + "qkv.bias", MASK_INPUT],
            p + "attention",
            domain=MS_DOMAIN,
            num_heads=layer.heads,
        )
        g.const(p + "attn_out.weight", _array(layer.attn_out.weight).T)
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
        g.const(p + "ffn_in.weight", _array(layer.ffn_in.weight).T)
        g.const(p + "ffn_in.bias", _array(layer.ffn_in.bias))
        g.const(p + "ffn_out.weight", _array(layer.ffn_out.weight).T)
        inner = g.node("MatMul", [x, p + "ffn_in.weight"], p + "ffn_in")
        inner = g.node("BiasGelu", [inner, p + "ffn_in.bias"], p + "gelu", domain=MS_DOMAIN)  # exact (erf) GELU
        out = g.node("MatMul", [inner, p + "ffn_out.weight"], p + "ffn_out")
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


def quantize_nodes(
    source: Path, target: Path, names: Iterable[str], *, per_channel: bool = True, reduce_range: bool = False
) -> list[str]:
    """Dynamic int8 (per-channel weights, activations quantized per batch) on the named Attention and
    MatMul nodes ("layer3.ffn_out"); everything else stays fp32. Returns the names quantized.

    `per_channel` / `reduce_range` (7-bit weights, for CPUs without VNNI) are ONNX Runtime's options;
    serving uses the defaults, benchmarks/int8_sensitivity.py compares them."""
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
    return chosen


def export(backbone: Path, adapter: Path, out: Path, int8_nodes: Iterable[str] = ()) -> dict:
    """Write `out/model.onnx` from the cached backbone and an adapter; returns what it wrote (heads, int8 nodes)."""
    from models.adapter_io import load_adapter
    from models.encoder import load_lean_net

    state, config, _ = load_adapter(adapter)
    net = load_lean_net(backbone, state, config)
    model = build_graph(net)
    heads = {name: int(h.out_features) for name, h in head_modules(net).items()}
    del net
    names = list(dict.fromkeys(int8_nodes))
    target = out / "model.onnx"
    if names:
        fp32 = out / "fp32.onnx"
        onnx.save(model, str(fp32))
        quantized = quantize_nodes(fp32, target, names)
        fp32.unlink()
    else:
        onnx.save(model, str(target))
        quantized = []
    return {"heads": heads, "int8_nodes": quantized}


def main(argv: list[str] | None = None) -> int:
    """Exporter child process: writes the graph and prints a JSON summary on its last line."""
    parser = argparse.ArgumentParser(prog="python -m models.onnx_graph", description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", type=Path, required=True)
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--int8-nodes", default="", help="comma-separated node names to run in int8")
    args = parser.parse_args(argv)
    names = [x for x in args.int8_nodes.split(",") if x.strip()]
    summary = export(args.backbone, args.adapter, args.out, names)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
