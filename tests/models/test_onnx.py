"""The ONNX Runtime serving path: same answers as torch, a checksummed export cache, no torch when serving."""

from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from config.schema import ClassifierSettings
from models import onnx_runtime
from models.encoder import LeanNet, Q4Embedding
from models.network import AdapterConfig
from models.onnx_graph import build_graph, head_modules, quantize_nodes
from models.onnx_runtime import (
    INT8_KINDS,
    OnnxExportError,
    Q4WordTable,
    ensure_onnx_model,
    int8_nodes_for,
    mixed_fp32_nodes,
    write_mixed_nodes,
)
from models.train import pad

ROOT = Path(__file__).resolve().parents[2]
# English and Japanese, complaints, praise, questions, plus whitespace and symbol corners.
MIXED = [
    "@united my bag is lost AGAIN and nobody answers the phone. 3 days!!",
    "Loving the new update, the app finally feels fast 😍 https://t.co/abc",
    "Does anyone know if the store on 5th opens on Sundays?",
    "Been with Acme Mobile 6 years now and genuinely never had a reason to leave",
    "Wow, waited on hold for two hours just to get disconnected. Amazing service as always 🙄",
    "注文した商品が一週間たっても届きません。問い合わせにも返事がない。",
    "スタッフの対応がとても丁寧で、また泊まりたいです！",
    "アクメモバイル、なんだかんだ5年使ってるけど不満ない",
    "日曜日は何時まで開いていますか？",
    "ｶﾀｶﾅ と ① は NFKC で変わる",
    "  many   spaces   inside  ",
    "word " * 200,
]


def _block(scale: float, values: list[int]) -> bytes:
    q = [v + 8 for v in values]
    return struct.pack("<e", scale) + bytes((q[j] & 0x0F) | (q[j + 16] << 4) for j in range(16))


def _q4_table(vocab: int, hidden: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = b"".join(
        _block(float(rng.uniform(-0.1, 0.1)), [int(v) for v in rng.integers(-8, 8, 32)])
        for _ in range(vocab * hidden // 32)
    )
    return np.frombuffer(raw, dtype=np.uint8).reshape(vocab, -1).copy()


def test_serving_constants_match_the_torch_modules() -> None:
    from models.adapter_io import packaged_adapter
    from models.encoder import Q4_EMBEDDING_FILE
    from models.train import MAX_TOKENS

    assert onnx_runtime.MAX_TOKENS == MAX_TOKENS
    assert onnx_runtime.PACKAGED_ADAPTER == packaged_adapter()
    assert onnx_runtime.Q4_EMBEDDING_FILE == Q4_EMBEDDING_FILE


def test_q4_rows_equal_the_torch_embedding_bit_for_bit(tmp_path: Path) -> None:
    table = _q4_table(7, 64)
    np.save(tmp_path / "t.npy", table)
    ids = np.array([[4, 0, 2, 6], [1, 1, 3, 5]])
    got = Q4WordTable(tmp_path / "t.npy", 64).rows(ids)
    want = Q4Embedding(torch.from_numpy(table), 64)(torch.from_numpy(ids)).numpy()
    assert got.dtype == np.float32 and got.shape == (2, 4, 64)
    np.testing.assert_array_equal(got, want)


def test_int8_presets_name_whole_layers() -> None:
    assert int8_nodes_for("none", 12) == []
    upper = int8_nodes_for("upper", 12)
    assert upper[0] == "layer6.attention" and upper[-1] == "layer11.ffn_out" and len(upper) == 6 * len(INT8_KINDS)
    assert len(int8_nodes_for("all", 12)) == 12 * len(INT8_KINDS)
    mixed = int8_nodes_for("mixed", 12)
    # "mixed" keeps fp32 exactly the groups the shipped list names, all of them real nodes.
    assert set(int8_nodes_for("all", 12)) - set(mixed) == set(mixed_fp32_nodes())
    assert len(mixed_fp32_nodes()) < 12 * len(INT8_KINDS)
    # ... and differs from "all": some nodes stay fp32, or its int8 nodes are smoothed.
    assert mixed_fp32_nodes() or onnx_runtime.mixed_preset().smooth_alpha is not None
    with pytest.raises(ValueError, match="classifier.int8"):
        int8_nodes_for("half", 12)  # type: ignore[arg-type]


def test_the_mixed_list_is_data_written_and_read_back(tmp_path: Path) -> None:
    path = write_mixed_nodes(
        ["layer1.ffn_out", "layer0.ffn_out"], {"cost": 0.2, "jrte": 67.3}, "by hand", tmp_path / "m.json"
    )
    assert mixed_fp32_nodes(path) == ["layer1.ffn_out", "layer0.ffn_out"]
    data = json.loads(path.read_text())
    assert data["val"] == {"cost": 0.2, "jrte": 67.3} and len(data["measured_on_adapter_sha256"]) == 64
    path.write_text('{"fp32_nodes": "layer1.ffn_out"}')
    with pytest.raises(ValueError, match="fp32_nodes"):
        mixed_fp32_nodes(path)


def _tiny_net(extra_head: bool = True) -> LeanNet:
    torch.manual_seed(0)
    config = {
        "hidden_size": 64,
        "max_position_embeddings": 32,
        "layer_norm_eps": 1e-12,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
    }
    net = LeanNet(config, AdapterConfig(), torch.from_numpy(_q4_table(50, 64)))
    with torch.no_grad():
        net.positions.normal_(0, 0.2)
        net.token_type.normal_(0, 0.2)
    if extra_head:  # a head the net does not define itself, as a later adapter may carry
        net.add_module("needs_reply_head", torch.nn.Linear(64, 1))
    return net.eval()


def _run(model, words: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"words": words, "attention_mask": mask}), strict=True))


def test_graph_has_every_head_and_equals_the_torch_net_with_padding() -> None:
    net = _tiny_net()
    ids = [[0, 5, 9, 2], [0, 7, 2], [0, 11, 12, 13, 14, 15, 2]]
    input_ids, mask = pad(ids, 1, torch.device("cpu"))
    model = build_graph(net)
    assert [o.name for o in model.graph.output] == ["sentiment", "complaint", "needs_reply"]
    ops = {n.op_type for n in model.graph.node}
    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= ops  # ONNX Runtime's fused CPU kernels
    with torch.inference_mode():
        words = net.words(input_ids).numpy()
        feats = net.features(input_ids, mask)
        want = {name: head(feats).numpy() for name, head in head_modules(net).items()}
    got = _run(model, words, mask.numpy().astype(np.int32))
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4)
    # A padded row gives what the same text gives alone (the mask hides the padding).
    alone = _run(model, words[1:2, :3], np.ones((1, 3), dtype=np.int32))
    np.testing.assert_allclose(alone["sentiment"], got["sentiment"][1:2], rtol=1e-4, atol=1e-4)


def test_quantize_touches_only_the_named_nodes(tmp_path: Path) -> None:
    import onnx

    net = _tiny_net(extra_head=False)
    fp32 = tmp_path / "fp32.onnx"
    onnx.save(build_graph(net), str(fp32))
    names = quantize_nodes(fp32, tmp_path / "int8.onnx", ["layer1.attention", "layer1.ffn_in"])
    assert names == ["layer1.attention", "layer1.ffn_in"]
    ops = {n.name: n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node}
    assert ops["layer0.attention"] == "Attention" and ops["layer0.ffn_in"] == "MatMul"
    assert ops["layer1.ffn_out"] == "MatMul" and "layer1.attention" not in ops
    # Quantized attention: a per-token int8 QKV projection + MultiHeadAttention (QAttention only per batch).
    assert {"MultiHeadAttention", "MatMulIntegerToFloat"} <= set(ops.values()) and "QAttention" not in ops.values()
    quantize_nodes(fp32, tmp_path / "per_batch.onnx", ["layer1.attention"], per_row=False)
    assert "QAttention" in {n.op_type for n in onnx.load(str(tmp_path / "per_batch.onnx")).graph.node}
    with pytest.raises(ValueError, match="no Attention/MatMul node"):
        quantize_nodes(fp32, tmp_path / "x.onnx", ["layer9.attention"])


def _fake_backbone(tmp_path: Path) -> tuple[Path, Path]:
    backbone = tmp_path / "cache" / "backbone"
    backbone.mkdir(parents=True)
    (backbone / "manifest.json").write_text('{"files": {}}')
    adapter = tmp_path / "adapter.safetensors"
    adapter.write_bytes(b"adapter v1")
    return backbone, adapter


def test_export_is_cached_checksummed_and_rebuilt_when_corrupted(tmp_path: Path, monkeypatch) -> None:
    backbone, adapter = _fake_backbone(tmp_path)
    calls = []

    def fake_exporter(backbone: Path, adapter: Path, out: Path, int8, *smoothing, **static) -> dict:
        calls.append(out)
        (out / "model.onnx").write_bytes(b"graph " + adapter.read_bytes())
        return {"heads": {"sentiment": 3, "complaint": 1}, "int8_nodes": list(int8)}

    monkeypatch.setattr(onnx_runtime, "_run_exporter", fake_exporter)
    first, manifest = ensure_onnx_model(backbone, adapter, check_backbone=False)
    assert (first / "model.onnx").read_bytes() == b"graph adapter v1"
    assert manifest["heads"] == {"sentiment": 3, "complaint": 1}
    assert json.loads((first / "manifest.json").read_text()) == manifest
    # Reused, not exported again.
    assert ensure_onnx_model(backbone, adapter, check_backbone=False)[0] == first and len(calls) == 1
    (first / "model.onnx").write_bytes(b"graph adapter v1 but truncat")
    # The checksum caught it.
    assert ensure_onnx_model(backbone, adapter, check_backbone=False)[0] == first and len(calls) == 2
    assert (first / "model.onnx").read_bytes() == b"graph adapter v1"
    adapter.write_bytes(b"adapter v2")
    second, _ = ensure_onnx_model(backbone, adapter, check_backbone=False)
    assert second != first and (second / "model.onnx").read_bytes() == b"graph adapter v2"
    int8, manifest = ensure_onnx_model(backbone, adapter, ["layer6.ffn_in"], check_backbone=False)
    assert int8 not in (first, second) and manifest["int8_nodes"] == ["layer6.ffn_in"]
    # Nothing half-written is left behind.
    assert not [p for p in backbone.parent.iterdir() if p.name.startswith(".")]


def test_serving_checks_the_backbone_files_it_reads_and_rebuilds_when_one_is_bad(tmp_path: Path, monkeypatch) -> None:
    from models.backbone import CONVERTER_VERSION, MANIFEST

    cache = tmp_path / "cache" / f"multilingual-e5-small-v{CONVERTER_VERSION}"
    cache.mkdir(parents=True)
    files = {}
    for name in onnx_runtime.SERVING_FILES:
        (cache / name).write_bytes(name.encode())
        files[name] = onnx_runtime._sha256(cache / name)
    files["model.safetensors"] = "not checked when serving"
    (cache / MANIFEST).write_text(json.dumps({"converter": CONVERTER_VERSION, "files": files}))
    rebuilt: list[Path] = []

    def rebuild(root: Path) -> Path:
        rebuilt.append(root)
        return cache

    monkeypatch.setattr(onnx_runtime, "ensure_backbone", rebuild)
    assert onnx_runtime.serving_backbone(tmp_path / "cache") == cache and rebuilt == []
    (cache / onnx_runtime.SPM_FILE).write_bytes(b"bitrot")
    assert onnx_runtime.serving_backbone(tmp_path / "cache") == cache and rebuilt == [tmp_path / "cache"]


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    backbone, adapter = _fake_backbone(tmp_path)

    def failing(backbone: Path, adapter: Path, out: Path, int8, *smoothing, **static) -> dict:
        (out / "model.onnx").write_bytes(b"half")
        raise OnnxExportError("exporting the ONNX graph failed (exit 1): boom")

    monkeypatch.setattr(onnx_runtime, "_run_exporter", failing)
    with pytest.raises(OnnxExportError, match="boom"):
        ensure_onnx_model(backbone, adapter, check_backbone=False)
    assert sorted(p.name for p in backbone.parent.iterdir()) == ["backbone"]


class _TorchStandIn:
    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs


def test_loader_falls_back_to_torch_with_one_log_line_when_onnxruntime_is_missing(monkeypatch, caplog) -> None:
    import models.transformer
    from models.loader import load_classifier

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    monkeypatch.setattr(models.transformer, "TransformerClassifier", _TorchStandIn)
    with caplog.at_level(logging.WARNING, logger="models.loader"):
        clf = load_classifier(ClassifierSettings(runtime="onnx", threads=1, batch_size=16))
    assert isinstance(clf, _TorchStandIn) and clf.kwargs["threads"] == 1 and clf.kwargs["batch_size"] == 16
    assert len(caplog.records) == 1 and "using the torch runtime" in caplog.records[0].getMessage()


def test_loader_uses_torch_without_trying_onnx_when_asked(monkeypatch) -> None:
    import models.transformer
    from models.loader import load_classifier

    def boom(**kwargs):
        raise AssertionError("the ONNX runtime must not be tried")

    monkeypatch.setattr(onnx_runtime, "OnnxClassifier", boom)
    monkeypatch.setattr(models.transformer, "TransformerClassifier", _TorchStandIn)
    assert isinstance(load_classifier(ClassifierSettings(runtime="torch")), _TorchStandIn)


@pytest.mark.model
def test_onnx_and_torch_give_the_same_probabilities(torch_fp32, onnx_classifier) -> None:
    torch_out = torch_fp32.probabilities(MIXED)
    onnx_out = onnx_classifier.probabilities(MIXED)
    # Every head, needs-reply included, on both runtimes (the packaged adapter has all three).
    assert "needs_reply" in onnx_classifier.heads and torch_fp32.has_needs_reply
    assert len(torch_out) == len(onnx_out) == 3
    for got, want in zip(onnx_out, torch_out, strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4)
    torch_results = torch_fp32.predict(MIXED)
    onnx_results = onnx_classifier.predict(MIXED)
    assert [r.sentiment for r in onnx_results] == [r.sentiment for r in torch_results]
    assert [r.complaint for r in onnx_results] == [r.complaint for r in torch_results]
    assert [r.unsure for r in onnx_results] == [r.unsure for r in torch_results]
    assert [r.language for r in onnx_results] == [r.language for r in torch_results]
    reply_t = [r.p_needs_reply for r in torch_results]
    reply_o = [r.p_needs_reply for r in onnx_results]
    assert None not in reply_t and None not in reply_o
    np.testing.assert_allclose(reply_o, reply_t, atol=1e-4)
    assert all(0.0 < p < 1.0 for p in reply_t)  # a probability (after the sigmoid), not a logit
    assert onnx_classifier.model_id == torch_fp32.model_id


def test_the_serving_net_gives_needs_reply_only_when_it_has_the_head() -> None:
    ids = [[0, 5, 9, 2], [0, 7, 2]]
    input_ids, mask = pad(ids, 1, torch.device("cpu"))
    with torch.inference_mode():
        with_head = _tiny_net()
        sentiment, complaint, reply = with_head.forward_all(input_ids, mask)
        assert reply is not None and reply.shape == (2,)
        head = head_modules(with_head)["needs_reply"]
        torch.testing.assert_close(reply, head(with_head.features(input_ids, mask))[:, 0])
        torch.testing.assert_close((sentiment, complaint), with_head(input_ids, mask))
        assert _tiny_net(extra_head=False).forward_all(input_ids, mask)[2] is None


@pytest.mark.model
def test_torch_runtime_with_an_adapter_older_than_the_needs_reply_head(tmp_path: Path, torch_fp32) -> None:
    from models.adapter_io import load_adapter, packaged_adapter, save_adapter
    from models.transformer import TransformerClassifier

    state, config, version = load_adapter(packaged_adapter())
    old = tmp_path / "old.safetensors"
    save_adapter(old, {k: v for k, v in state.items() if not k.startswith("needs_reply_head")}, config, version)
    classifier = TransformerClassifier(threads=2, dtype=torch.float32, adapter=old)
    assert not classifier.has_needs_reply and len(classifier.probabilities(MIXED[:3])) == 2
    results = classifier.predict(MIXED[:3])
    assert [r.p_needs_reply for r in results] == [None, None, None]
    # The other heads are untouched by the missing one.
    want = torch_fp32.predict(MIXED[:3])
    np.testing.assert_allclose([float(r.p_complaint or 0) for r in results], [float(r.p_complaint or 0) for r in want])


@pytest.mark.model
def test_the_export_carries_every_head_of_the_adapter(onnx_classifier) -> None:
    from models.adapter_io import load_adapter, packaged_adapter

    state, _, _ = load_adapter(packaged_adapter())
    heads = {k.removesuffix("_head.weight"): int(v.shape[0]) for k, v in state.items() if k.endswith("_head.weight")}
    assert onnx_classifier.heads == heads
    logits = onnx_classifier.head_logits(MIXED[:3])
    assert {name: v.shape for name, v in logits.items()} == {name: (3, w) for name, w in heads.items()}


@pytest.mark.model
def test_the_serving_process_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from models.onnx_runtime import OnnxClassifier\n"
        "r = OnnxClassifier(threads=1).predict(['the app keeps crashing', 'アプリが落ちる'])\n"
        "print(all(x.scored for x in r), 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


@pytest.mark.model
def test_the_mixed_graph_exports_caches_and_answers_like_fp32(onnx_classifier) -> None:
    from models.onnx_runtime import OnnxClassifier, verify_export

    mixed = OnnxClassifier(threads=2, int8="mixed")
    manifest = json.loads((mixed.export_dir / "manifest.json").read_text())
    assert manifest["int8_nodes"] == int8_nodes_for("mixed", 12) and mixed.export_dir != onnx_classifier.export_dir
    assert verify_export(mixed.export_dir, manifest["key"]) == manifest  # checksummed like every export
    assert OnnxClassifier(threads=1, int8="mixed").export_dir == mixed.export_dir  # cached, not exported again
    sent_m, comp_m, *_ = mixed.probabilities(MIXED)
    sent_f, comp_f, *_ = onnx_classifier.probabilities(MIXED)
    # int8 moves probabilities a little (benchmarks/int8_sensitivity.py measures how much on the val sets).
    np.testing.assert_allclose(sent_m, sent_f, atol=0.1)
    np.testing.assert_allclose(comp_m, comp_f, atol=0.1)
    assert (sent_m.argmax(-1) == sent_f.argmax(-1)).mean() >= 0.9


@pytest.mark.model
def test_threads_run_whole_batches_side_by_side_with_the_same_answers(onnx_classifier, monkeypatch) -> None:
    """With threads = 2 two session runs are in flight at once (a barrier both must reach, or it times out),
    a small call is cut so that both threads get work, and the answers match one thread's."""
    import threading

    from models.onnx_runtime import OnnxClassifier

    single = OnnxClassifier(threads=1)
    want = single.probabilities(MIXED)
    assert onnx_classifier.threads == 2
    real_session = onnx_classifier.session
    barrier = threading.Barrier(2, timeout=20)
    runners: list[int] = []

    class Meeting:
        """Each of the first two runs waits for the other: sequential runs would break the barrier."""

        def run(self, outputs, feeds):
            if len(runners) < 2:
                runners.append(threading.get_ident())
                barrier.wait()
            return real_session.run(outputs, feeds)

    monkeypatch.setattr(onnx_classifier, "session", Meeting())
    got = onnx_classifier.probabilities(MIXED)  # fewer texts than one batch: still two runs
    assert len(set(runners)) == 2
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_seven_bit_weights_stay_within_64_and_get_their_own_export(tmp_path: Path, monkeypatch) -> None:
    """x86 without VNNI saturates 16-bit pair sums of uint8 x int8 products: there int8 weights get 7 bits
    (ONNX Runtime's reduce_range: [-64, 64]),
    and a graph exported for one width is never served for the other."""
    import onnx
    from onnx import numpy_helper

    net = _tiny_net(extra_head=False)
    fp32 = tmp_path / "fp32.onnx"
    onnx.save(build_graph(net), str(fp32))
    peaks = {}
    for bits in (7, 8):
        quantize_nodes(fp32, tmp_path / f"w{bits}.onnx", ["layer1.ffn_in"], reduce_range=bits == 7)
        weights = [
            numpy_helper.to_array(t)
            for t in onnx.load(str(tmp_path / f"w{bits}.onnx")).graph.initializer
            if t.data_type == onnx.TensorProto.INT8 and t.dims and len(t.dims) == 2
        ]
        peaks[bits] = max(int(np.abs(w.astype(np.int16)).max()) for w in weights)
    assert peaks[7] <= 64 and peaks[8] == 127

    backbone, adapter = _fake_backbone(tmp_path)
    widths: list[int] = []

    def fake_exporter(backbone: Path, adapter: Path, out: Path, int8, alpha, nodes, outliers, bits, **static) -> dict:
        widths.append(bits)
        (out / "model.onnx").write_bytes(b"graph")
        return {"heads": {"sentiment": 3}, "int8_nodes": list(int8)}

    monkeypatch.setattr(onnx_runtime, "_run_exporter", fake_exporter)
    monkeypatch.setattr(onnx_runtime, "int8_weight_bits", lambda: 7)
    seven, manifest = ensure_onnx_model(backbone, adapter, ["layer6.ffn_in"], check_backbone=False)
    eight, _ = ensure_onnx_model(backbone, adapter, ["layer6.ffn_in"], check_backbone=False, weight_bits=8)
    assert seven != eight and widths == [7, 8] and manifest["int8_weight_bits"] == 7
