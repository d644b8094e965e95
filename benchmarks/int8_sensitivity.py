"""Which int8 nodes cost accuracy: quantizes groups of the ONNX graph and scores each variant on the val sets.

A group is one projection of one encoder layer (`layer4.ffn_out`: 12 layers x attention QKV,
attention output, FFN in, FFN out; the embeddings and heads are never quantized). Every variant
is scored like `benchmarks.model_speed` scores a path (TweetEval and JRTE val macro-recall,
complaints val macro-F1 at 0.5; cost = largest drop against fp32 over the three), plus how far its
answers drift from fp32 (share of flipped decisions, mean |probability change|), which is far less
noisy than a metric on a few hundred texts.

    python -m benchmarks.int8_sensitivity alone            # each group alone in int8
    python -m benchmarks.int8_sensitivity without          # everything int8 but one group
    python -m benchmarks.int8_sensitivity greedy --write   # keep the most sensitive groups fp32 until
                                                           # the cost is within budget; ship the list
    python -m benchmarks.int8_sensitivity check            # score the shipped "mixed" list
    python -m benchmarks.int8_sensitivity nodes --smooth 0.5 --outliers 16 [--fp32 ...] [--write]
                                                           # smoothed int8 (SmoothQuant, models/onnx_graph.py),
                                                           # 16 FFN units per layer fp32, the named nodes fp32;
                                                           # --write ships all three as the "mixed" preset
    python -m benchmarks.int8_sensitivity nodes --smooth 0.4 --outliers 16 --fp32 layer0.ffn_out \
        --static attention,attn_out [--percentile 100] [--write]
                                                           # those nodes with constant activation scales
                                                           # calibrated at export (models/onnx_graph.py),
                                                           # the rest per token; --write ships "static"
    python -m benchmarks.int8_sensitivity check --preset static

Run it under `nice -n 10` with `OMP_NUM_THREADS=1` on a shared machine. Validation data is read
from the project's shared data folder here only (`--data-dir`), never at run time.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

from benchmarks.model_speed import _labelled, _shared_data
from models.evaluate import COMPLAINT_CLASSES, SENTIMENT_CLASSES, score
from models.onnx_graph import calibrate_token_maxima, calibration_batches, quantize_nodes, static_scales
from models.onnx_runtime import INT8_KINDS, MIXED_FILE, MODEL_FILE, OnnxClassifier, write_mixed_nodes

# (set name, csv under the data folder, what is scored)
VAL_SETS = (
    ("tweeteval", "tweeteval_sentiment/val.csv", "sentiment"),
    ("complaints", "complaints/val.csv", "complaint"),
    ("jrte", "jrte_pn_ja/val.csv", "sentiment"),
)


@dataclass(frozen=True)
class Variant:
    """The scores of one int8 node set."""

    fp32_nodes: list[str]
    metrics: dict[str, float]
    cost: float
    flipped: float
    drift: float
    seconds: float


def groups(n_layers: int = 12) -> list[str]:
    """Every quantizable node, layer by layer ("layer0.attention" ... "layer11.ffn_out")."""
    return [f"layer{i}.{kind}" for i in range(n_layers) for kind in INT8_KINDS]


def load_val(data_dir: Path, subsample: int = 0, seed: int = 5) -> dict[str, tuple[list[str], list[int]]]:
    """The val sets, each cut to a seeded random `subsample` of texts when that is > 0."""
    out = {}
    for name, path, _ in VAL_SETS:
        texts, gold = _labelled(data_dir / path)
        if 0 < subsample < len(texts):
            keep = sorted(random.Random(seed).sample(range(len(texts)), subsample))
            texts, gold = [texts[i] for i in keep], [gold[i] for i in keep]
        out[name] = (texts, gold)
    return out


class Scorer:
    """Scores int8 variants of the served graph; the fp32 graph is exported once, variants only re-quantized."""

    def __init__(
        self,
        val: dict,
        *,
        threads: int = 1,
        per_channel: bool = True,
        reduce_range: bool = False,
        per_row: bool = True,
        smooth_alpha: float | None = None,
        outliers: int = 0,
        percentile: float = 100.0,
        static_nodes: Sequence[str] = (),
    ) -> None:
        # With smoothing the fp32 graph has every quantizable node smoothed (the same fp32 function, tested),
        # as serving's has (models.onnx_runtime.smoothed_nodes): a variant is the graph serving exports.
        self.clf = OnnxClassifier(threads=threads, smooth_alpha=smooth_alpha, outliers=outliers)
        self.smooth_alpha = smooth_alpha
        self.tmp = Path(tempfile.mkdtemp(prefix="int8-sensitivity-"))
        # A private copy: the quantizer writes scratch files beside its input, which parallel runs would share.
        self.fp32_graph = Path(shutil.copy(self.clf.export_dir / MODEL_FILE, self.tmp / "fp32.onnx"))
        self.threads = threads
        self.per_channel = per_channel
        self.reduce_range = reduce_range
        self.per_row = per_row
        self.percentile = percentile
        self.static_nodes = list(static_nodes)
        self._token_maxima: dict[str, np.ndarray] | None = None
        self.val = val
        self.reference = self._probabilities()
        self.reference_metrics = self._metrics(self.reference)

    def _probabilities(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for name, (texts, _) in self.val.items():
            probs = self.clf.probabilities(texts)
            out[name] = (probs[0], probs[1])
        return out

    def _metrics(self, probs: dict) -> dict[str, float]:
        out = {}
        for name, _, task in VAL_SETS:
            gold = self.val[name][1]
            sentiment, complaint = probs[name]
            if task == "sentiment":
                out[name] = 100 * score(gold, sentiment.argmax(-1).tolist(), SENTIMENT_CLASSES).macro_recall
            else:
                out[name] = 100 * score(gold, (complaint >= 0.5).astype(int).tolist(), COMPLAINT_CLASSES).macro_f1
        return out

    def static_scales(self, nodes: Sequence[str]) -> dict[str, float]:
        """Constant activation scales of `nodes`, calibrated as serving's export does (models/onnx_graph.py)."""
        if self._token_maxima is None:
            from models.calibration import load_texts
            from models.onnx_runtime import MAX_TOKENS

            ids = self.clf.tokenizer.encode(load_texts(), MAX_TOKENS)
            batches = calibration_batches(ids, self.clf.tokenizer.pad_token_id, self.clf.words.rows)
            self._token_maxima = calibrate_token_maxima(onnx.load(str(self.fp32_graph)), batches, groups())
        return static_scales({n: self._token_maxima[n] for n in nodes}, self.percentile)

    def variant(self, fp32_nodes: Sequence[str], static_nodes: Sequence[str] | None = None) -> Variant:
        """Scores the graph with every group int8 except `fp32_nodes`, `static_nodes` (default: the scorer's) with
        constant activation scales, the rest per token."""
        import onnxruntime as ort

        started = time.perf_counter()
        keep = set(fp32_nodes)
        int8 = [n for n in groups() if n not in keep]
        static = set(self.static_nodes if static_nodes is None else static_nodes)
        target = self.tmp / "variant.onnx"
        if int8:
            quantize_nodes(
                self.fp32_graph,
                target,
                int8,
                per_channel=self.per_channel,
                reduce_range=self.reduce_range,
                per_row=self.per_row,
                static=self.static_scales([n for n in int8 if n in static]),
            )
        path = target if int8 else self.fp32_graph
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.clf.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        probs = self._probabilities()
        metrics = self._metrics(probs)
        flips, drift, count = 0, 0.0, 0
        for name, (sentiment, complaint) in probs.items():
            ref_s, ref_c = self.reference[name]
            flips += int(
                (sentiment.argmax(-1) != ref_s.argmax(-1)).sum() + ((complaint >= 0.5) != (ref_c >= 0.5)).sum()
            )
            drift += float(np.abs(sentiment - ref_s).sum() / 2 + np.abs(complaint - ref_c).sum())
            count += len(complaint)
        return Variant(
            fp32_nodes=sorted(keep, key=groups().index),
            metrics=metrics,
            cost=max(self.reference_metrics[k] - metrics[k] for k in metrics),
            flipped=100 * flips / (2 * count),
            drift=100 * drift / (2 * count),
            seconds=time.perf_counter() - started,
        )


def _line(label: str, v: Variant) -> str:
    m = " ".join(f"{k} {x:6.2f}" for k, x in v.metrics.items())
    return f"{label:<26} {m}  cost {v.cost:+5.2f}  flipped {v.flipped:5.2f}%  drift {v.drift:5.3f}  ({v.seconds:.0f}s)"


def units(by: str, n_layers: int = 12) -> dict[str, list[str]]:
    """The groups searched over: one node each (`node`), whole layers (`layer`) or one kind in every layer (`kind`)."""
    every = groups(n_layers)
    if by == "layer":
        return {f"layer{i}": [n for n in every if n.startswith(f"layer{i}.")] for i in range(n_layers)}
    if by == "kind":
        return {kind: [n for n in every if n.endswith("." + kind)] for kind in INT8_KINDS}
    return {n: [n] for n in every}


def alone(
    scorer: Scorer, by: str = "node", on_row: Callable[[str, Variant], None] | None = None
) -> list[tuple[str, Variant]]:
    """Each group alone in int8 (the rest fp32): what quantizing it costs by itself."""
    out = []
    for name, nodes in units(by).items():
        v = scorer.variant([n for n in groups() if n not in nodes])
        print(_line(name, v), flush=True)
        out.append((name, v))
        if on_row:
            on_row(name, v)
    return out


def without(
    scorer: Scorer, by: str = "node", base: Sequence[str] = (), on_row: Callable[[str, Variant], None] | None = None
) -> list[tuple[str, Variant]]:
    """Everything int8 but one group (and the `base` nodes): what keeping it fp32 wins back."""
    out = []
    for name, nodes in units(by).items():
        v = scorer.variant([*base, *nodes])
        print(_line(f"all but {name}", v), flush=True)
        out.append((name, v))
        if on_row:
            on_row(name, v)
    return out


def greedy(scorer: Scorer, ranking: list[str], budget: float, most: int, start: int = 0) -> list[Variant]:
    """Keeps the groups fp32 in `ranking` order (most sensitive first), `start` of them first, one more each
    try, until the cost is within `budget`."""
    tried = []
    for k in range(start, most + 1):
        v = scorer.variant(ranking[:k])
        print(_line(f"top {k} fp32", v), flush=True)
        tried.append(v)
        if v.cost <= budget:
            break
    return tried


def _rank_alone(rows: list[tuple[str, Variant]]) -> list[str]:
    return [node for node, _ in sorted(rows, key=lambda row: -row[1].drift)]


def _ranking(measured: dict) -> list[str]:
    """Groups most sensitive first from a saved result: `alone` = most drift when quantized by itself,
    `without` = least drift left when it alone stays fp32."""
    drift = {node: v["drift"] for node, v in measured["groups"].items()}
    sign = -1 if measured["mode"] == "alone" else 1
    return sorted(drift, key=lambda n: sign * drift[n])


def _ship(v: Variant, args: argparse.Namespace) -> Path:
    """Writes the variant's fp32 list as the "mixed" preset, with its full-val figures and how it was chosen."""
    measured = {"cost": round(v.cost, 2), **{k: round(x, 2) for k, x in v.metrics.items()}, "drift": round(v.drift, 3)}
    if args.subsample:
        measured["subsample"] = args.subsample
    command = "python -m benchmarks.int8_sensitivity " + " ".join(sys.argv[1:] if args.argv is None else args.argv)
    return write_mixed_nodes(
        v.fp32_nodes,
        measured,
        command,
        smooth_alpha=args.smooth,
        outliers=args.outliers,
        static_nodes=[n for n in args.static if n not in v.fp32_nodes],
        static_percentile=args.percentile,
    )


def static_nodes(spec: str, n_layers: int = 12) -> list[str]:
    """Nodes named by a comma-separated list of node names and kinds (a kind: that projection of every layer)."""
    names = [x.strip() for x in spec.split(",") if x.strip()]
    unknown = [x for x in names if x not in INT8_KINDS and x not in groups(n_layers)]
    if unknown:
        raise ValueError(f"--static: no node or kind named {unknown[0]!r}")
    return [n for n in groups(n_layers) if n in names or n.split(".")[1] in names]


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.int8_sensitivity", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("alone", "without", "greedy", "check", "nodes"))
    parser.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: found above)")
    parser.add_argument("--subsample", type=int, default=0, help="texts per val set (0 = all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-per-channel", action="store_true", help="per-tensor weight scales")
    parser.add_argument("--reduce-range", action="store_true", help="7-bit weights (for CPUs without VNNI)")
    parser.add_argument(
        "--per-tensor", action="store_true", help="one activation scale per batch (ONNX Runtime's), not per token"
    )
    parser.add_argument(
        "--smooth", type=float, default=None, metavar="ALPHA", help="smooth the int8 nodes with exponent ALPHA"
    )
    parser.add_argument(
        "--outliers",
        type=int,
        default=0,
        metavar="K",
        help="with --smooth: K input channels of each FFN node in fp32",
    )
    parser.add_argument(
        "--static",
        default="",
        metavar="NODES",
        help="nodes or kinds (attention, attn_out, ffn_in, ffn_out) with constant activation scales; with --write "
        'ships the "static" preset',
    )
    parser.add_argument("--percentile", type=float, default=100.0, help="with --static: calibration percentile")
    parser.add_argument("--preset", choices=("mixed", "static"), default="mixed", help="check: the preset scored")
    parser.add_argument("--budget", type=float, default=0.3, help="greedy: largest accepted cost in points")
    parser.add_argument("--most", type=int, default=16, help="greedy: most groups kept fp32")
    parser.add_argument("--start", type=int, default=0, help="greedy: groups kept fp32 in the first try")
    parser.add_argument("--ranking", type=Path, help="greedy: an alone/without --json result to rank by (else alone)")
    parser.add_argument("--fp32", default="", help="nodes, without: comma-separated nodes kept fp32 (always)")
    parser.add_argument("--by", choices=("node", "layer", "kind"), default="node", help="alone, without: groups")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--write", action="store_true", help=f"greedy, nodes: ship the list as models/{MIXED_FILE} (or the static)"
    )
    args = parser.parse_args(argv)
    args.argv = argv
    args.static = static_nodes(args.static)
    val = load_val(args.data_dir or _shared_data(), args.subsample)
    if args.mode == "check" and args.smooth is None:
        from models.onnx_runtime import mixed_preset, preset_path

        shipped = mixed_preset(preset_path(args.preset))
        args.smooth, args.outliers = shipped.smooth_alpha, shipped.outliers
        args.static, args.percentile = list(shipped.static_nodes), shipped.static_percentile
    scorer = Scorer(
        val,
        threads=args.threads,
        per_channel=not args.no_per_channel,
        reduce_range=args.reduce_range,
        per_row=not args.per_tensor,
        smooth_alpha=args.smooth,
        outliers=args.outliers,
        percentile=args.percentile,
        static_nodes=args.static,
    )
    print(f"fp32 reference: {scorer.reference_metrics} on {[len(t) for t, _ in val.values()]} texts", flush=True)
    result: dict = {
        "reference": scorer.reference_metrics,
        "subsample": args.subsample,
        "mode": args.mode,
        "smooth_alpha": args.smooth,
        "outliers": args.outliers,
        "static_nodes": args.static,
        "static_percentile": args.percentile,
    }
    if args.mode in ("alone", "without"):
        base = [n for n in args.fp32.split(",") if n]
        result["groups"] = {}

        def keep(node: str, v: Variant) -> None:
            # Saved after every row, so an interrupted search keeps what it measured.
            result["groups"][node] = asdict(v)
            if args.json:
                args.json.write_text(json.dumps(result, indent=2))

        if args.mode == "alone":
            alone(scorer, args.by, keep)
        else:
            without(scorer, args.by, base, keep)
    elif args.mode == "greedy":
        ranking = _ranking(json.loads(args.ranking.read_text())) if args.ranking else _rank_alone(alone(scorer))
        tried = greedy(scorer, ranking, args.budget, args.most, args.start)
        result["ranking"] = ranking
        result["tried"] = [asdict(v) for v in tried]
        chosen = tried[-1]
        if chosen.cost > args.budget:
            print(f"no list of <= {args.most} fp32 groups is within {args.budget} points", file=sys.stderr)
            return 1
        if args.write:
            print(f"wrote {_ship(chosen, args)}")
    else:
        from models.onnx_runtime import mixed_fp32_nodes, preset_path

        check = args.mode == "check"
        fp32 = mixed_fp32_nodes(preset_path(args.preset)) if check else [n for n in args.fp32.split(",") if n]
        v = scorer.variant(fp32)
        print(_line(f"{len(fp32)} fp32", v))
        result["variant"] = asdict(v)
        if args.write and args.mode == "nodes":
            print(f"wrote {_ship(v, args)}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
