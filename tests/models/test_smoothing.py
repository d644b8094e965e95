"""int8 activation smoothing (SmoothQuant-style): exact in fp32, deterministic, keyed, and chosen per adapter."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import cast

import numpy as np
import onnx
import pytest
import torch

from models import calibration, onnx_runtime
from models.encoder import EncoderLayer, LeanNet
from models.onnx_graph import activation_maxima, build_graph, outlier_channels, quantize_nodes, smoothing_scales
from models.onnx_runtime import (
    MixedPreset,
    ensure_onnx_model,
    export_key,
    mixed_preset,
    preset_smoothing,
    write_mixed_nodes,
)
from tests.models.test_onnx import MIXED, _fake_backbone, _run, _tiny_net

PAD = 1
IDS = [[0, 5, 9, 2], [0, 7, 2], [0, 11, 12, 13, 14, 15, 2], [0, 21, 22, 23, 2], [0, 30, 31, 32, 33, 34, 35, 36, 2]]
EVERY_NODE = [f"layer{i}.{kind}" for i in range(2) for kind in ("attention", "attn_out", "ffn_in", "ffn_out")]


def _net(outlier: float = 1.0) -> LeanNet:
    """A 2-layer net; `outlier` > 1 gives GELU channel 3 of every layer (FFN-out's input) a large range,
    the shape that breaks per-tensor int8 activations in the real model."""
    net = _tiny_net(extra_head=False)
    with torch.no_grad():
        for module in net.layers:
            layer = cast(EncoderLayer, module)
            layer.ffn_in.weight[3] *= outlier
            layer.ffn_in.bias[3] = abs(float(layer.ffn_in.bias[3])) * outlier
            layer.ffn_out.weight[:, 3] /= outlier
    return net.eval()


def _inputs(net: LeanNet) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(x) for x in IDS)
    ids = torch.full((len(IDS), width), PAD, dtype=torch.long)
    mask = np.zeros((len(IDS), width), dtype=np.int32)
    for row, seq in enumerate(IDS):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    with torch.inference_mode():
        return net.words(ids).numpy(), mask


def test_a_smoothed_graph_computes_the_same_fp32_function() -> None:
    net = _net(outlier=8.0)
    words, mask = _inputs(net)
    plain = _run(build_graph(net), words, mask)
    maxima = activation_maxima(net, IDS, PAD)
    split = outlier_channels(maxima, 3, EVERY_NODE)
    assert sorted(split) == ["layer0.ffn_out", "layer1.ffn_out"]
    assert 3 in split["layer0.ffn_out"]  # the channel made an outlier
    for scales in (
        smoothing_scales(net, maxima, 0.5, EVERY_NODE),
        # Far-off scales too: exactness must not depend on s being near 1.
        {
            n: np.random.default_rng(i).uniform(0.05, 20.0, len(maxima[n])).astype(np.float32)
            for i, n in enumerate(EVERY_NODE)
        },
    ):
        model = build_graph(net, scales, split)
        inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
        plain_inits = {t.name: onnx.numpy_helper.to_array(t) for t in build_graph(net).graph.initializer}
        # It really is smoothed: weights changed, a Mul before attention / FFN-in / FFN-out, V scaled instead
        # of a Mul before attention-out.
        assert not np.allclose(inits["layer1.ffn_in.weight"], plain_inits["layer1.ffn_in.weight"][:, :125])
        assert not np.allclose(inits["layer1.attn_out.weight"], plain_inits["layer1.attn_out.weight"])
        assert not np.allclose(inits["layer0.qkv.bias"][128:], plain_inits["layer0.qkv.bias"][128:])
        muls = {n.name for n in model.graph.node if n.op_type == "Mul" and n.name.endswith(".smooth")}
        assert muls == {f"layer{i}.{k}.smooth" for i in range(2) for k in ("attention", "ffn_in", "ffn_out")}
        # The split-off hidden units: out of the (int8) FFN MatMuls, in a small fp32 FFN beside them.
        assert inits["layer1.ffn_in.weight"].shape == (64, 125) and inits["layer1.ffn_out.weight"].shape == (125, 64)
        assert inits["layer1.ffn_side.out.weight"].shape == (3, 64)
        assert {"layer0.ffn_side.in", "layer1.ffn_side.out"} <= {n.name for n in model.graph.node}
        got = _run(model, words, mask)
        for name, want in plain.items():
            np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-4)


def test_smoothing_only_some_nodes_and_unknown_names() -> None:
    net = _net()
    words, mask = _inputs(net)
    scales = smoothing_scales(net, activation_maxima(net, IDS, PAD), 0.8, ["layer1.attn_out"])
    model = build_graph(net, scales)
    assert not [n for n in model.graph.node if n.name.endswith(".smooth")]  # folded into V: no Mul at all
    for name, want in _run(build_graph(net), words, mask).items():
        np.testing.assert_allclose(_run(model, words, mask)[name], want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="no quantizable node"):
        build_graph(net, {"layer7.ffn_out": np.ones(128, dtype=np.float32)})


def test_maxima_are_over_real_tokens_only_and_deterministic() -> None:
    net = _net()
    maxima = activation_maxima(net, IDS, PAD)
    assert list(maxima) == EVERY_NODE
    assert maxima["layer0.ffn_out"].shape == (128,) and maxima["layer0.attention"].shape == (64,)
    # Each text alone (no padding at all) gives the same maxima: padded positions are left out.
    alone = [activation_maxima(net, [ids], PAD) for ids in IDS]
    for name in EVERY_NODE:
        np.testing.assert_allclose(maxima[name], np.max([a[name] for a in alone], axis=0), rtol=1e-5, atol=1e-6)
    again = activation_maxima(net, IDS, PAD)
    assert all(np.array_equal(maxima[n], again[n]) for n in EVERY_NODE)


def test_scales_follow_the_smoothquant_formula() -> None:
    net = _net()
    maxima = activation_maxima(net, IDS, PAD)
    w_max = cast(EncoderLayer, net.layers[1]).ffn_out.weight.abs().amax(dim=0).numpy()
    x_max = maxima["layer1.ffn_out"]
    for alpha in (0.0, 0.5, 1.0):
        s = smoothing_scales(net, maxima, alpha, ["layer1.ffn_out"])["layer1.ffn_out"]
        np.testing.assert_allclose(s, x_max**alpha / w_max ** (1 - alpha), rtol=1e-5)
    # After smoothing with a = 0.5 the activation and weight ranges of each channel are equal.
    s = smoothing_scales(net, maxima, 0.5, ["layer1.ffn_out"])["layer1.ffn_out"]
    np.testing.assert_allclose(x_max / s, w_max * s, rtol=1e-4)


def test_smoothing_shrinks_the_int8_error_of_an_outlier_channel(tmp_path: Path) -> None:
    net = _net(outlier=30.0)
    words, mask = _inputs(net)
    reference = _run(build_graph(net), words, mask)
    nodes = ["layer0.ffn_out", "layer1.ffn_out"]
    errors = {}
    maxima = activation_maxima(net, IDS, PAD)
    scales = smoothing_scales(net, maxima, 0.5, nodes)
    for label, smooth, split in (
        ("plain", {}, {}),
        ("smooth", scales, {}),
        ("split", {}, outlier_channels(maxima, 1, nodes)),
    ):
        onnx.save(build_graph(net, smooth, split), str(tmp_path / f"{label}.onnx"))
        quantize_nodes(tmp_path / f"{label}.onnx", tmp_path / f"{label}-int8.onnx", nodes)
        got = _run(onnx.load(str(tmp_path / f"{label}-int8.onnx")), words, mask)
        errors[label] = max(float(np.abs(got[k] - reference[k]).max()) for k in reference)
    assert errors["smooth"] < errors["plain"] / 2, errors
    assert errors["split"] < errors["plain"] / 2, errors


def test_the_export_key_changes_with_the_smoothing(tmp_path: Path) -> None:
    backbone, adapter = _fake_backbone(tmp_path)
    cal = tmp_path / "calibration.json"
    cal.write_text(json.dumps({"texts": ["one", "two"]}))
    nodes = ["layer0.ffn_out", "layer1.ffn_out"]
    plain = export_key(backbone, adapter, nodes)
    assert export_key(backbone, adapter, nodes, None, nodes, cal) == plain  # no exponent: nothing smoothed
    smoothed = export_key(backbone, adapter, nodes, 0.5, nodes, cal)
    assert smoothed != plain
    assert export_key(backbone, adapter, nodes, 0.5, nodes, cal) == smoothed  # deterministic
    assert export_key(backbone, adapter, nodes, 0.6, nodes, cal) != smoothed
    assert export_key(backbone, adapter, nodes, 0.5, nodes[:1], cal) != smoothed
    assert export_key(backbone, adapter, nodes, 0.5, nodes, cal, outliers=2) != smoothed
    cal.write_text(json.dumps({"texts": ["one", "three"]}))
    assert export_key(backbone, adapter, nodes, 0.5, nodes, cal) != smoothed
    adapter.write_bytes(b"adapter v2")  # new weights, new scales
    assert export_key(backbone, adapter, nodes, 0.5, nodes, cal) not in (smoothed, plain)


def test_a_smoothed_export_gets_its_own_cache_entry(tmp_path: Path, monkeypatch) -> None:
    backbone, adapter = _fake_backbone(tmp_path)
    calls = []

    def fake_exporter(
        backbone, adapter, out: Path, int8, smooth_alpha, smooth_nodes, outliers, _bits, **static
    ) -> dict:
        calls.append((smooth_alpha, list(smooth_nodes), outliers))
        (out / "model.onnx").write_bytes(f"graph {smooth_alpha}".encode())
        return {"heads": {"sentiment": 3}, "int8_nodes": list(int8), "smoothed_nodes": list(smooth_nodes)}

    monkeypatch.setattr(onnx_runtime, "_run_exporter", fake_exporter)
    nodes = ["layer0.ffn_out"]
    plain, _ = ensure_onnx_model(backbone, adapter, nodes, check_backbone=False)
    smooth, manifest = ensure_onnx_model(
        backbone, adapter, nodes, check_backbone=False, smooth_alpha=0.5, smooth_nodes=nodes
    )
    assert smooth != plain and smooth.name.startswith("onnx-int8-1-smooth-")
    assert manifest["smooth_alpha"] == 0.5 and manifest["smoothed_nodes"] == nodes
    assert calls == [(None, [], 0), (0.5, nodes, 0)]
    # Cached; and an exponent of None means unsmoothed whatever nodes are named.
    assert (
        ensure_onnx_model(backbone, adapter, nodes, check_backbone=False, smooth_alpha=0.5, smooth_nodes=nodes)[0]
        == smooth
    )
    assert ensure_onnx_model(backbone, adapter, nodes, check_backbone=False, smooth_nodes=nodes)[0] == plain
    assert ensure_onnx_model(backbone, adapter, nodes, check_backbone=False, outliers=2)[0] == plain
    assert len(calls) == 2
    split, _ = ensure_onnx_model(
        backbone, adapter, nodes, check_backbone=False, smooth_alpha=0.5, smooth_nodes=nodes, outliers=2
    )
    assert split not in (plain, smooth) and calls[-1] == (0.5, nodes, 2)


def test_the_mixed_preset_carries_its_exponent_and_warns_on_another_adapter(tmp_path: Path, caplog) -> None:
    path = write_mixed_nodes(
        ["layer0.ffn_out"], {"cost": 0.4}, "by hand", tmp_path / "m.json", smooth_alpha=0.6, outliers=4
    )
    preset = mixed_preset(path)
    assert preset == MixedPreset(["layer0.ffn_out"], 0.6, onnx_runtime._sha256(onnx_runtime.PACKAGED_ADAPTER), 4)
    with caplog.at_level(logging.WARNING, logger="models.onnx_runtime"):
        assert preset_smoothing("mixed", onnx_runtime.PACKAGED_ADAPTER, path) == (0.6, 4)
        assert not caplog.records
        assert preset_smoothing("all", onnx_runtime.PACKAGED_ADAPTER, path) == (None, 0)
        other = tmp_path / "other.safetensors"
        other.write_bytes(b"another adapter")
        assert preset_smoothing("mixed", other, path) == (0.6, 4)
    assert [r.getMessage() for r in caplog.records if "chosen on another adapter" in r.getMessage()]
    data = json.loads(path.read_text())
    data["smooth_alpha"] = 2
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="smooth_alpha"):
        mixed_preset(path)
    data["smooth_alpha"], data["outlier_channels"] = 0.5, -1
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="outlier_channels"):
        mixed_preset(path)
    del data["smooth_alpha"], data["outlier_channels"]  # a list written before smoothing existed: unsmoothed
    path.write_text(json.dumps(data))
    assert mixed_preset(path).smooth_alpha is None and mixed_preset(path).outliers == 0


def _texts(path: Path) -> set[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["text"] for row in csv.DictReader(fh)}


def test_the_calibration_sample_is_fixed_and_from_training_texts_only() -> None:
    shipped = calibration.load_texts()
    assert calibration.sample_texts() == calibration.sample_texts()  # fixed rows, fixed order
    assert len(shipped) == sum(n for _, n in calibration.SOURCES) == len(set(shipped))
    train = set().union(*(_texts(calibration.DATA_DIR / name) for name, _ in calibration.SOURCES))
    assert set(shipped) <= train
    mentions = calibration.DATA_DIR / "mentions"
    assert not set(shipped) & (_texts(mentions / "val.csv") | _texts(mentions / "test.csv"))
    # Both languages the val sets weigh most are in it.
    assert any(t.isascii() for t in shipped) and any("\u3040" <= c <= "\u30ff" for t in shipped for c in t)


def test_bad_calibration_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"texts": []}))
    with pytest.raises(ValueError, match="non-empty"):
        calibration.load_texts(path)
    data = tmp_path / "data"
    data.mkdir()
    for name, _ in calibration.SOURCES:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text("text\nonly one\n", encoding="utf-8")
    with pytest.raises(ValueError, match="need"):
        calibration.sample_texts(data)


@pytest.mark.model
def test_the_real_smoothed_graph_answers_like_fp32_and_records_its_smoothing(onnx_classifier) -> None:
    from models.onnx_runtime import INT8_KINDS, OnnxClassifier

    every = [f"layer{i}.{kind}" for i in range(12) for kind in INT8_KINDS]
    # fp32, every node smoothed, 4 input channels of every FFN node split off.
    smoothed = OnnxClassifier(threads=2, smooth_alpha=0.5, smooth_nodes=every, outliers=4)
    manifest = json.loads((smoothed.export_dir / "manifest.json").read_text())
    assert manifest["smooth_alpha"] == 0.5 and manifest["smoothed_nodes"] == every and manifest["int8_nodes"] == []
    split = manifest["outlier_channels"]
    assert sorted(split) == sorted(n for n in every if n.endswith(".ffn_out"))
    assert all(len(channels) == 4 for channels in split.values())
    assert smoothed.export_dir != onnx_classifier.export_dir
    for got, want in zip(smoothed.probabilities(MIXED), onnx_classifier.probabilities(MIXED), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4)
