"""The builtin classifier served by ONNX Runtime: graph exported locally on first use, checksummed, no torch.

The first start exports our own weights (cached backbone + adapter, LoRA folded in, every head)
into `<cache>/onnx-<variant>-<key>/model.onnx` in a child process (`python -m models.onnx_graph`,
the only place torch is imported), written into a temporary directory and renamed into place with
a manifest of sha256 checksums, checked at every start like the backbone cache. The key hashes
the backbone manifest, the adapter file and the exporter version, so new weights get a new graph;
with int8 smoothing (models/onnx_graph.py) also the smoothing exponent, the smoothed nodes, the number
of outlier channels split off and the calibration texts, since the scales and channels are computed
from those and the weights at export; with constant int8 activation scales also their nodes and percentile.
Serving needs numpy, sentencepiece and onnxruntime only: the 4-bit word-embedding rows are
looked up here, the graph does the rest (models/onnx_graph.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from models.memory import configure_process, release_memory

configure_process()

from models.assemble import classify  # noqa: E402
from models.backbone import (  # noqa: E402
    BACKBONE_NAME,
    CONVERTER_VERSION,
    MANIFEST,
    default_cache_root,
    ensure_backbone,
)
from models.base import Classification  # noqa: E402
from models.calibration import CALIBRATION_FILE  # noqa: E402
from models.cpu import int8_weight_bits  # noqa: E402
from models.decision import DecisionRule  # noqa: E402
from models.spm import SPM_FILE, SentencePieceTokenizer  # noqa: E402

log = logging.getLogger(__name__)

# Bump when models/onnx_graph.py writes a different graph, so old exports are rebuilt, not trusted.
EXPORT_VERSION = "1"
# Bump when the smoothing or outlier split (models/onnx_graph.py) writes a different graph; only smoothed exports
# hash it, so plain ones stay valid.
SMOOTH_VERSION = "2"
# Bump when models/onnx_graph.quantize_nodes writes a different int8 graph; only int8 exports hash it.
# 2: activations quantized per token (per_row_activations), not per batch.
INT8_VERSION = "2"
# Bump when models/onnx_graph.static_activations or the calibration of its scales writes a different graph; only
# exports with constant activation scales hash it. 2: smoothing stays a Mul (1 folded it into QuantizeLinear).
STATIC_VERSION = "2"
MODEL_FILE = "model.onnx"
Q4_EMBEDDING_FILE = "word_embeddings.q4.npy"
# What serving reads from the backbone cache (the exporter reads the rest).
SERVING_FILES = ("config.json", Q4_EMBEDDING_FILE, SPM_FILE)
# Same as models.train.MAX_TOKENS (a test checks), kept here so serving never imports torch.
MAX_TOKENS = 128
# Most texts per session run. Runs are length-bucketed and spread over `threads` single-threaded runs at
# once; 8-16 ran as fast as each other and 35 % faster than one two-threaded run of 32 (benchmarks/model_speed.py).
RUN_BATCH = 16
# Same as models.adapter_io.packaged_adapter() (a test checks); that module imports torch.
PACKAGED_ADAPTER = Path(__file__).with_name("weights") / "adapter.safetensors"
Int8 = Literal["none", "upper", "mixed", "static", "all"]
# The nodes of one encoder layer that can run in int8 (models/onnx_graph.py names them layer<i>.<kind>).
INT8_KINDS = ("attention", "attn_out", "ffn_in", "ffn_out")
# The groups the "mixed" preset keeps fp32 and the smoothing exponent of its int8 ones: data shipped beside
# the weights, chosen on the val sets with benchmarks/int8_sensitivity.py (the file's `chosen_by` records the
# command; docs/model.md); rerun it when the weights change.
MIXED_FILE = "weights/int8_mixed.json"
# The "static" preset, the same kind of file plus the int8 nodes whose activations get constant (calibrated)
# scales instead of per-token ones, and the calibration percentile of those scales.
STATIC_FILE = "weights/int8_static.json"
PRESET_FILES = {"mixed": MIXED_FILE, "static": STATIC_FILE}
_Q4_BLOCK = 32
_Q4_BLOCK_BYTES = 18


class OnnxExportError(RuntimeError):
    """The graph could not be exported or loaded."""


def resolve_adapter(adapter: Path | None = None) -> Path:
    """The adapter to serve: the argument, else `$LISTENER_ADAPTER`, else the packaged one."""
    env = os.environ.get("LISTENER_ADAPTER")
    path = adapter or (Path(env).expanduser() if env else PACKAGED_ADAPTER)
    if not path.is_file():
        raise FileNotFoundError(f"adapter weights not found: {path}")
    return path


def adapter_version(path: Path) -> str:
    """The version in an adapter file's metadata (read without torch)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as fh:
        meta = fh.metadata() or {}
    if "adapter_config" not in meta:
        raise ValueError(f"{path} is not a listener adapter (no adapter_config metadata)")
    return meta.get("version", "unknown")


def int8_nodes_for(int8: Int8, n_layers: int) -> list[str]:
    """Graph nodes that run in int8 for a `[classifier] int8` preset.

    "upper": every projection of layers 6-11 (of 12). "all": every projection of every layer.
    "mixed": all but the groups listed in models/weights/int8_mixed.json, the ones whose int8 cost
    accuracy on the val sets (benchmarks/int8_sensitivity.py; docs/model.md); the file also gives the
    smoothing exponent of the int8 nodes (preset_smoothing). "static": the same from
    models/weights/int8_static.json, whose int8 nodes mostly run with constant activation scales (preset_static).
    """
    every = [f"layer{i}.{kind}" for i in range(n_layers) for kind in INT8_KINDS]
    if int8 == "none":
        return []
    if int8 == "upper":
        return [n for n in every if int(n[5:].split(".")[0]) >= n_layers // 2]
    if int8 == "all":
        return every
    if int8 in PRESET_FILES:
        keep = set(mixed_fp32_nodes(preset_path(int8)))
        return [n for n in every if n not in keep]
    raise ValueError(f"classifier.int8: expected none, upper, mixed, static or all, got {int8!r}")


def preset_path(int8: Int8) -> Path:
    """The shipped file of a preset chosen on the val sets ("mixed", "static")."""
    return Path(__file__).parent / PRESET_FILES[int8]


def smoothed_nodes(n_layers: int) -> list[str]:
    """The nodes a smoothed graph smooths: every quantizable node, the ones that stay fp32 included.

    Smoothing a node changes its fp32 function by rounding only (one `Mul`), but the outlier split that comes
    with a smoothed FFN-out also takes its units out of FFN-in: were only the int8 nodes smoothed, an int8
    FFN-in beside an fp32 FFN-out would run its outlier units in int8. Serving and benchmarks/int8_sensitivity.py
    (which re-quantizes one graph smoothed everywhere) therefore build the very same graph for a preset."""
    return int8_nodes_for("all", n_layers)


@dataclass(frozen=True)
class MixedPreset:
    """The shipped "mixed" preset: the nodes kept fp32, the smoothing exponent of the int8 ones (None: not
    smoothed), how many outlier input channels of each int8 FFN node run in fp32, the adapter it was chosen on,
    and the int8 nodes with constant activation scales calibrated at `static_percentile` (the others: per token)."""

    fp32_nodes: list[str]
    smooth_alpha: float | None
    adapter_sha256: str | None
    outliers: int = 0
    static_nodes: tuple[str, ...] = ()
    static_percentile: float = 100.0


def mixed_preset(path: Path | None = None) -> MixedPreset:
    """A preset file as shipped: models/weights/int8_mixed.json unless `path` names another (int8_static.json)."""
    source = path or Path(__file__).parent / MIXED_FILE
    data = json.loads(source.read_text())
    nodes = data["fp32_nodes"]
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise ValueError(f"{source.name}: fp32_nodes must be a list of node names")
    alpha = data.get("smooth_alpha")
    if alpha is not None and not (isinstance(alpha, int | float) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"{source.name}: smooth_alpha must be a number in [0, 1] or null, got {alpha!r}")
    outliers = data.get("outlier_channels", 0)
    if not isinstance(outliers, int) or outliers < 0:
        raise ValueError(f"{source.name}: outlier_channels must be a count >= 0, got {outliers!r}")
    static = data.get("static_nodes", [])
    if not isinstance(static, list) or not all(isinstance(n, str) for n in static):
        raise ValueError(f"{source.name}: static_nodes must be a list of node names")
    percentile = data.get("static_percentile", 100.0)
    if not (isinstance(percentile, int | float) and 50.0 <= percentile <= 100.0):
        raise ValueError(f"{source.name}: static_percentile must be a number in [50, 100], got {percentile!r}")
    return MixedPreset(
        nodes,
        None if alpha is None else float(alpha),
        data.get("measured_on_adapter_sha256"),
        outliers,
        tuple(static),
        float(percentile),
    )


def preset_smoothing(int8: Int8, adapter: Path, path: Path | None = None) -> tuple[float | None, int]:
    """(smoothing exponent, outlier channels) of a preset's int8 nodes: the shipped file's own for "mixed" and
    "static", (None, 0) for the others.

    The list (and its exponent) were chosen on the val sets for one adapter: serving another logs a
    warning naming the command to rerun, and still uses it (smoothing is exact in fp32 and its scales
    are computed from the served weights at export, so only the choice may be off, never the graph)."""
    if int8 not in PRESET_FILES:
        return None, 0
    shipped = mixed_preset(path or preset_path(int8))
    if shipped.adapter_sha256 != _sha256(adapter):
        log.warning(
            'the int8 "%s" preset (%s) was chosen on another adapter than %s; it still applies, but '
            "rerun benchmarks/int8_sensitivity.py for this one (docs/model.md)",
            int8,
            PRESET_FILES[int8],
            adapter.name,
        )
    return shipped.smooth_alpha, shipped.outliers


def preset_static(int8: Int8, path: Path | None = None) -> tuple[list[str], float]:
    """(int8 nodes with constant activation scales, calibration percentile) of a preset: the shipped "static"
    file's, none for the others (all per token)."""
    if int8 not in PRESET_FILES:
        return [], 100.0
    shipped = mixed_preset(path or preset_path(int8))
    return list(shipped.static_nodes), shipped.static_percentile


def served_static(int8: Int8, weight_bits: int, path: Path | None = None) -> tuple[list[str], float]:
    """preset_static as served on a CPU whose int8 weights get `weight_bits`: with 7-bit weights (x86 without
    VNNI) "static" keeps per-token scales everywhere, i.e. serves the "mixed" graph, since there constant
    scales cost 1.31 points on the val sets against 0.30 for per-token ones (benchmarks/int8_sensitivity.py
    check --reduce-range)."""
    if int8 == "static" and weight_bits == 7:
        log.info('int8 "static" serves per-token activation scales on this CPU (7-bit weights: no VNNI)')
        return [], 100.0
    return preset_static(int8, path)


def mixed_fp32_nodes(path: Path | None = None) -> list[str]:
    """The nodes the "mixed" preset keeps fp32 (models/weights/int8_mixed.json)."""
    return mixed_preset(path).fp32_nodes


def write_mixed_nodes(
    fp32_nodes: Sequence[str],
    measured: dict[str, float],
    chosen_by: str,
    path: Path | None = None,
    *,
    smooth_alpha: float | None = None,
    outliers: int = 0,
    static_nodes: Sequence[str] = (),
    static_percentile: float = 100.0,
) -> Path:
    """Ship `fp32_nodes` (and the int8 nodes' smoothing exponent) as the "mixed" preset, with the adapter
    they were measured on and the val figures; with `static_nodes`, as the "static" preset."""
    target = path or Path(__file__).parent / (STATIC_FILE if static_nodes else MIXED_FILE)
    data: dict = {
        "fp32_nodes": list(fp32_nodes),
        "smooth_alpha": smooth_alpha,
        "outlier_channels": outliers,
    }
    if static_nodes:
        data |= {
            "static_nodes": list(static_nodes),
            "static_percentile": static_percentile,
        }
    data |= {
        "measured_on_adapter_sha256": _sha256(PACKAGED_ADAPTER),
        "val": measured,
        "chosen_by": chosen_by,
    }
    target.write_text(json.dumps(data, indent=2) + "\n")
    return target


def serving_backbone(cache_root: Path | None = None) -> Path:
    """The cached backbone directory, checking only the files serving reads against its manifest.

    The 235 MB bf16 weights are read only by the exporter (which checks the whole cache first), so
    a warm start does not hash them; anything amiss falls back to the full check and rebuild.
    """
    target = (cache_root or default_cache_root()).expanduser() / f"{BACKBONE_NAME}-v{CONVERTER_VERSION}"
    try:
        manifest = json.loads((target / MANIFEST).read_text())
        files = manifest["files"]
        if manifest.get("converter") == CONVERTER_VERSION and all(
            _sha256(target / name) == files[name] for name in SERVING_FILES
        ):
            return target
    except (OSError, ValueError, KeyError):
        pass
    return ensure_backbone(cache_root)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_key(
    backbone: Path,
    adapter: Path,
    int8: Sequence[str],
    smooth_alpha: float | None = None,
    smooth_nodes: Sequence[str] = (),
    calibration: Path = CALIBRATION_FILE,
    outliers: int = 0,
    static_nodes: Sequence[str] = (),
    static_percentile: float = 100.0,
    weight_bits: int = 8,
) -> str:
    """What the exported graph depends on: exporter version, backbone manifest, adapter bytes, int8 nodes
    and their weight width, and when smoothing, its exponent, nodes and calibration texts (the scales are
    computed from them); with constant activation scales, their nodes, percentile and calibration texts."""
    digest = hashlib.sha256()
    digest.update(f"export={EXPORT_VERSION};int8={','.join(int8)};".encode())
    if int8:
        digest.update(f"int8_format={INT8_VERSION};".encode())
        if weight_bits != 8:
            digest.update(f"weight_bits={weight_bits};".encode())
    if smooth_alpha is not None and smooth_nodes:
        digest.update(f"smooth=v{SMOOTH_VERSION}:{smooth_alpha!r};nodes={','.join(smooth_nodes)};".encode())
        if outliers:
            digest.update(f"outliers={outliers};".encode())
        digest.update(f"calibration={_sha256(calibration)};".encode())
    if int8 and static_nodes:
        digest.update(f"static=v{STATIC_VERSION}:{static_percentile!r};nodes={','.join(static_nodes)};".encode())
        digest.update(f"static_calibration={_sha256(calibration)};".encode())
    digest.update((backbone / MANIFEST).read_bytes())
    digest.update(_sha256(adapter).encode())
    return digest.hexdigest()


def verify_export(directory: Path, key: str) -> dict | None:
    """The manifest of a complete export for `key` whose model file matches its checksum, else None."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("key") != key or manifest.get("export") != EXPORT_VERSION:
        return None
    model = directory / MODEL_FILE
    if not model.is_file() or _sha256(model) != manifest.get("files", {}).get(MODEL_FILE):
        return None
    return manifest


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _run_exporter(
    backbone: Path,
    adapter: Path,
    out: Path,
    int8: Sequence[str],
    smooth_alpha: float | None,
    smooth_nodes: Sequence[str],
    outliers: int = 0,
    weight_bits: int = 8,
    static_nodes: Sequence[str] = (),
    static_percentile: float = 100.0,
) -> dict:
    package_root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(package_root), env.get("PYTHONPATH", "")) if p)
    cmd = [
        sys.executable, "-m", "models.onnx_graph",
        "--backbone", str(backbone), "--adapter", str(adapter), "--out", str(out),
        "--int8-nodes", ",".join(int8), "--weight-bits", str(weight_bits),
    ]  # fmt: skip
    if smooth_alpha is not None and smooth_nodes:
        cmd += ["--smooth-alpha", repr(smooth_alpha), "--smooth-nodes", ",".join(smooth_nodes)]
        cmd += ["--outliers", str(outliers)]
    if static_nodes:
        cmd += ["--static-nodes", ",".join(static_nodes), "--static-percentile", repr(static_percentile)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise OnnxExportError(f"exporting the ONNX graph failed (exit {done.returncode}): {tail[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_onnx_model(
    backbone: Path,
    adapter: Path,
    int8: Sequence[str] = (),
    cache_root: Path | None = None,
    *,
    check_backbone: bool = True,
    smooth_alpha: float | None = None,
    smooth_nodes: Sequence[str] = (),
    outliers: int = 0,
    weight_bits: int | None = None,
    static_nodes: Sequence[str] = (),
    static_percentile: float = 100.0,
) -> tuple[Path, dict]:
    """The exported graph's directory and manifest, exporting it first when missing, stale or corrupted.

    Before exporting, the whole backbone cache is checked (`check_backbone`), since the exporter reads all of it.
    `smooth_nodes` are smoothed with exponent `smooth_alpha` (None: nothing is smoothed), the FFN ones with
    their `outliers` largest input channels in fp32. int8 weights get `weight_bits` (None: what this CPU needs,
    models.cpu.int8_weight_bits). The int8 nodes among `static_nodes` quantize their input with a constant scale
    (calibrated at `static_percentile`), the others per token.
    """
    root = (cache_root or backbone.parent).expanduser()
    if smooth_alpha is None:
        smooth_nodes, outliers = (), 0
    bits = int8_weight_bits() if weight_bits is None else weight_bits
    static_nodes = [n for n in static_nodes if n in set(int8)]
    key = export_key(
        backbone,
        adapter,
        int8,
        smooth_alpha,
        smooth_nodes,
        outliers=outliers,
        weight_bits=bits,
        static_nodes=static_nodes,
        static_percentile=static_percentile,
    )
    variant = ("fp32" if not int8 else f"int8-{len(int8)}") + ("-smooth" if smooth_nodes else "")
    variant += f"-static{len(static_nodes)}" if static_nodes else ""
    target = root / f"onnx-{variant}-{key[:16]}"
    manifest = verify_export(target, key)
    if manifest is not None:
        return target, manifest
    if target.exists():
        log.warning("ONNX export %s is incomplete or corrupted; exporting it again", target)
    if check_backbone:
        backbone = ensure_backbone(backbone.parent)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
    try:
        log.info("exporting the classifier to ONNX into %s (first use)", target)
        summary = _run_exporter(
            backbone,
            adapter,
            tmp,
            int8,
            smooth_alpha,
            smooth_nodes,
            outliers,
            bits,
            static_nodes=static_nodes,
            static_percentile=static_percentile,
        )
        manifest = {
            "export": EXPORT_VERSION,
            "key": key,
            "backbone": BACKBONE_NAME,
            "adapter_sha256": _sha256(adapter),
            "int8_nodes": summary["int8_nodes"],
            "int8_weight_bits": bits if int8 else None,
            "smooth_alpha": smooth_alpha if smooth_nodes else None,
            "smoothed_nodes": summary.get("smoothed_nodes", []),
            "outlier_channels": summary.get("outlier_channels", {}),
            "static_scales": summary.get("static_scales", {}),
            "static_percentile": static_percentile if static_nodes else None,
            "heads": summary["heads"],
            "files": {MODEL_FILE: _sha256(tmp / MODEL_FILE)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        for name in (MODEL_FILE, MANIFEST):
            _fsync(tmp / name)
        tmp.chmod(0o755)
        _fsync(tmp)
        if target.exists():
            stale = root / f".stale-{target.name}-{os.getpid()}"
            os.replace(target, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process exported the same graph at the same moment: use theirs if it is whole.
            theirs = verify_export(target, key)
            if theirs is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return target, theirs
        _fsync(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, manifest


class Q4WordTable:
    """The 250k-row word-embedding table in its Q4_0 blocks; rows are dequantized per batch and rounded
    to bf16, exactly as models.encoder.Q4Embedding does (the cached model and the training saw bf16)."""

    def __init__(self, path: Path, hidden: int) -> None:
        blocks = np.load(path, mmap_mode="r")
        if blocks.dtype != np.uint8 or blocks.shape[1] != hidden // _Q4_BLOCK * _Q4_BLOCK_BYTES:
            raise ValueError(f"bad Q4 table shape {blocks.shape} for hidden size {hidden}")
        # Read into memory once (54 MB): page faults on a memory map would add jitter to every batch.
        self.blocks = np.ascontiguousarray(blocks).reshape(blocks.shape[0], hidden // _Q4_BLOCK, _Q4_BLOCK_BYTES)
        self.hidden = hidden

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """float32 rows for `ids` ([B, T] -> [B, T, hidden])."""
        rows = self.blocks[ids]  # [B, T, nblocks, 18]
        scale = np.ascontiguousarray(rows[..., :2]).view(np.float16).astype(np.float32)
        packed = rows[..., 2:]
        # Low nibbles hold a block's first 16 values, high nibbles the last 16 (models/backbone.py).
        values = np.concatenate([packed & 0x0F, packed >> 4], axis=-1).astype(np.int8) - 8
        out = (values.astype(np.float32) * scale).reshape(*ids.shape, self.hidden)
        # Round to bf16 (nearest, ties to even) and back, like torch's .to(bfloat16).float().
        bits = out.view(np.uint32)
        bits = (bits + (np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1)))) & np.uint32(0xFFFF0000)
        return bits.view(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class OnnxClassifier:
    """Same contract and answers as TransformerClassifier (within float rounding), run by ONNX Runtime."""

    runtime = "onnx"

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        adapter: Path | None = None,
        complaint_threshold: float = 0.5,
        threads: int = 2,
        batch_size: int = RUN_BATCH,
        int8: Int8 = "none",
        int8_nodes: Sequence[str] | None = None,
        smooth_alpha: float | None = None,
        smooth_nodes: Sequence[str] | None = None,
        outliers: int | None = None,
        static_nodes: Sequence[str] | None = None,
        static_percentile: float | None = None,
        unsure_band: float = 0.1,
        require_agreement: bool = True,
    ) -> None:
        import onnxruntime as ort

        self.complaint_threshold = complaint_threshold
        self.unsure_band = unsure_band
        self.require_agreement = require_agreement
        self.batch_size = batch_size
        backbone = serving_backbone(Path(cache_dir) if cache_dir else None)
        adapter_path = resolve_adapter(adapter)
        self.model_id = f"{BACKBONE_NAME}+listener-{adapter_version(adapter_path)}"
        config = json.loads((backbone / "config.json").read_text())
        self.int8 = int8
        # `int8_nodes` (benchmarks, experiments) names the int8 nodes directly instead of the preset.
        preset = int8_nodes_for(int8, config["num_hidden_layers"])
        self.int8_nodes = list(int8_nodes) if int8_nodes is not None else preset
        # Smoothing: the "mixed" preset carries its own exponent; `smooth_alpha` / `smooth_nodes` (benchmarks)
        # set it directly. By default every node is smoothed, fp32 ones too (smoothed_nodes says why).
        if smooth_alpha is None and int8_nodes is None:
            smooth_alpha, preset_outliers = preset_smoothing(int8, adapter_path)
            outliers = preset_outliers if outliers is None else outliers
        self.smooth_alpha = smooth_alpha
        self.outliers = outliers or 0
        every = smoothed_nodes(config["num_hidden_layers"])
        self.smooth_nodes = [] if smooth_alpha is None else list(smooth_nodes or every)
        # Constant activation scales: the "static" preset names its nodes; `static_nodes` (benchmarks) directly.
        preset_nodes, preset_percentile = (
            served_static(int8, int8_weight_bits()) if int8_nodes is None else ([], 100.0)
        )
        self.static_nodes = [
            n for n in (preset_nodes if static_nodes is None else static_nodes) if n in self.int8_nodes
        ]
        self.static_percentile = preset_percentile if static_percentile is None else static_percentile
        self.export_dir, manifest = ensure_onnx_model(
            backbone,
            adapter_path,
            self.int8_nodes,
            cache_root=backbone.parent,
            smooth_alpha=smooth_alpha,
            smooth_nodes=self.smooth_nodes,
            outliers=self.outliers,
            static_nodes=self.static_nodes,
            static_percentile=self.static_percentile,
        )
        self.heads: dict[str, int] = manifest["heads"]
        self.tokenizer = SentencePieceTokenizer(backbone / SPM_FILE)
        self.words = Q4WordTable(backbone / Q4_EMBEDDING_FILE, config["hidden_size"])
        # `threads` whole runs at once, each on one thread, instead of one run whose every operator is split over
        # `threads` threads: a run is ~200 kernels of well under a millisecond, and splitting each costs a
        # hand-over and a wait for the slower half (a stall whenever another process holds a core). On 2 vCPUs:
        # 35 % more texts/s when idle and 20 % more beside a busy process than one two-threaded run (where
        # letting the idle worker spin instead of sleep gained 20 % idle but lost 38 % beside a busy process).
        self.threads = max(1, threads)
        self._runs = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx-run") if self.threads > 1 else None
        if self._runs is not None:
            weakref.finalize(self, self._runs.shutdown, wait=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(self.export_dir / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own (unexported) exception types
            raise OnnxExportError(f"cannot load {self.export_dir / MODEL_FILE}: {exc}") from exc
        self._outputs = [o.name for o in self.session.get_outputs()]

    def predict(self, texts: Sequence[str]) -> list[Classification]:
        """Classify `texts` in order; texts that cannot be judged come back unscored with a reason."""
        return classify(
            texts,
            model_id=self.model_id,
            probabilities=self.probabilities,
            complaint_threshold=self.complaint_threshold,
            rule=DecisionRule(self.complaint_threshold, self.unsure_band, self.require_agreement),
        )

    def head_logits(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Raw logits of every head for every text, in order: {head name: [N, head outputs]}."""
        ids = self.tokenizer.encode(texts, MAX_TOKENS)
        out = {name: np.zeros((len(ids), width), dtype=np.float32) for name, width in self.heads.items()}
        # Length-bucketed batches: sorted by length, neighbours have (nearly) the same length, so almost no padding.
        # A small call is cut into one batch per thread so that every thread has work.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        size = max(1, min(self.batch_size, -(-len(order) // self.threads)))
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        pad_id = self.tokenizer.pad_token_id

        def run(batch: list[int]) -> list[np.ndarray]:
            width = max(len(ids[i]) for i in batch)
            input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int32)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            return self.session.run(None, {"words": self.words.rows(input_ids), "attention_mask": mask})

        # InferenceSession.run is thread-safe and releases the GIL; the threads take the next batch as they free up.
        done = self._runs.map(run, batches) if self._runs is not None and len(batches) > 1 else map(run, batches)
        for batch, results in zip(batches, done, strict=True):
            for name, value in zip(self._outputs, results, strict=True):
                out[name][batch] = value
        release_memory()
        return out

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, ...]:
        """(sentiment probabilities [N, 3], complaint probability [N][, needs-reply probability [N]]);
        the third only when the adapter has a needs-reply head."""
        logits = self.head_logits(texts)
        out: tuple[np.ndarray, ...] = (_softmax(logits["sentiment"]), _sigmoid(logits["complaint"][:, 0]))
        if "needs_reply" in logits:
            out += (_sigmoid(logits["needs_reply"][:, 0]),)
        return out
