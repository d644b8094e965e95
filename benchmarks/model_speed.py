"""Model benchmarks: every serving path against plain fp32 at batch 32, through the classify stage's real call
pattern, with the accuracy each costs on the val sets, peak RSS of a classifying process and warm start-up.

`python -m benchmarks.model_speed [--n 5000] [--rounds 3]` prints the section; `make bench` records it.
Validation data is read from the project's shared data folder here only, never at run time.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_TEXTS = 5000
THREADS = 2
# The project VM's 2 cores are shared: time each path several times, interleaved, and keep the median.
ROUNDS = 3
# The stage's defaults ([classifier] batch_size, max_batch): what the daemon hands predict under a backlog.
STAGE_BATCH = 32
STAGE_MAX_BATCH = 256
# Texts the child processes classify for peak RSS (every length bucket occurs in each 256-text call).
CHILD_TEXTS = 2000


def _shared_data() -> Path:
    """`$LISTENER_SHARED_DATA`, else the first `shared/data` beside the repository or one of its parents."""
    env = os.environ.get("LISTENER_SHARED_DATA")
    if env:
        return Path(env)
    for parent in ROOT.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    raise FileNotFoundError("no shared/data folder above the repository; set LISTENER_SHARED_DATA")


def _column(path: Path, column: str = "text") -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def _labelled(path: Path) -> tuple[list[str], list[int]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def bench_texts(n: int = N_TEXTS, seed: int = 7) -> list[str]:
    """n tweet-length texts, 60% English (TweetEval + complaints val), 40% Japanese (JRTE val), shuffled."""
    data = _shared_data()
    rng = random.Random(seed)
    english = _column(data / "tweeteval_sentiment" / "val.csv") + _column(data / "complaints" / "val.csv")
    japanese = _column(data / "jrte_pn_ja" / "val.csv")
    n_ja = n * 2 // 5
    texts = [rng.choice(english) for _ in range(n - n_ja)] + [rng.choice(japanese) for _ in range(n_ja)]
    rng.shuffle(texts)
    return texts


class PlainFp32:
    """The reference: the same merged weights entirely in fp32 through transformers' BertModel and its
    `tokenizers` tokenizer, batches of 32 in arrival order, padded per batch."""

    def __init__(self) -> None:
        import torch
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        from models.adapter_io import packaged_adapter
        from models.backbone import ensure_backbone
        from models.transformer import load_listener_net

        hf_logging.disable_progress_bar()
        self.torch = torch
        path = ensure_backbone()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.net = load_listener_net(path, packaged_adapter(), torch.float32)

    def probabilities(self, texts: Sequence[str]):
        """Sentiment probabilities [N, 3] and complaint probability [N]."""
        torch = self.torch
        sent, comp = [], []
        with torch.no_grad():
            for start in range(0, len(texts), 32):
                enc = self.tokenizer(
                    list(texts[start : start + 32]), padding=True, truncation=True, max_length=128, return_tensors="pt"
                )
                s, c = self.net(enc["input_ids"], enc["attention_mask"])
                sent.append(s.softmax(-1))
                comp.append(torch.sigmoid(c))
        return torch.cat(sent), torch.cat(comp)


class _MemoryStore:
    """The three store calls the classify stage makes, in memory (the benchmark times the model, not SQLite)."""

    def __init__(self, mentions: Sequence) -> None:
        self.mentions = {m.key: m for m in mentions}

    async def call(self, method: Callable, *args):
        """`Store.call(SyncStore.<method>, ...)` answered from memory."""
        return getattr(self, method.__name__)(*args)

    def get_mentions(self, keys: Sequence[str]) -> list:
        return [self.mentions[k] for k in keys if k in self.mentions]

    def save_classifications(self, results: Sequence, now: datetime, router: object) -> list[str]:
        return []

    def beat(self, stage: str, now: datetime) -> None:
        return None


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class _Recording:
    """Passes predict through and records the size of every call the stage makes."""

    def __init__(self, classifier) -> None:
        self.classifier = classifier
        self.model_id = classifier.model_id
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str]):
        self.calls.append(len(texts))
        return self.classifier.predict(texts)


def stage_seconds(classifier, texts: Sequence[str], max_batch: int = STAGE_MAX_BATCH) -> tuple[float, list[int]]:
    """Seconds the real ClassifyStage takes to classify `texts` queued as a backlog, and its predict call sizes."""
    from listener.classify import ClassifyStage
    from listener.domain import Mention

    now = datetime.now(UTC)
    mentions = [
        Mention(source="bench", external_id=str(i), text=t, author="a", created_at=now) for i, t in enumerate(texts)
    ]
    recording = _Recording(classifier)

    async def go() -> float:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for m in mentions:
            queue.put_nowait(m.key)
        stage = ClassifyStage(
            recording, _MemoryStore(mentions), queue, _Clock(), router=None,  # type: ignore[arg-type]
            batch_size=STAGE_BATCH, max_wait=0.05, max_batch=max_batch,
        )  # fmt: skip
        started = time.perf_counter()
        task = asyncio.create_task(stage.run())
        try:
            await queue.join()
        finally:
            task.cancel()
            stage.close()
        return time.perf_counter() - started

    return asyncio.run(go()), recording.calls


def _macro_recall(gold: list[int], probs) -> float:
    from models.evaluate import SENTIMENT_CLASSES, score

    return 100 * score(gold, [int(x) for x in probs.argmax(-1).tolist()], SENTIMENT_CLASSES).macro_recall


def _complaint_f1(gold: list[int], probs) -> float:
    from models.evaluate import COMPLAINT_CLASSES, score

    return 100 * score(gold, [int(float(p) >= 0.5) for p in probs], COMPLAINT_CLASSES).macro_f1


def accuracy(probabilities: Callable) -> dict[str, float]:
    """TweetEval and JRTE val macro-recall, complaints val macro-F1 (threshold 0.5) of one path."""
    data = _shared_data()
    out = {}
    for name, path in (("tweeteval", "tweeteval_sentiment/val.csv"), ("jrte", "jrte_pn_ja/val.csv")):
        texts, gold = _labelled(data / path)
        out[name] = _macro_recall(gold, probabilities(texts)[0])
    texts, gold = _labelled(data / "complaints" / "val.csv")
    out["complaints"] = _complaint_f1(gold, probabilities(texts)[1])
    return out


_CHILD = r"""
import json, resource, sys, time
from config.schema import ClassifierSettings
from models.loader import load_classifier
clf = load_classifier(ClassifierSettings.model_validate(json.loads(sys.argv[1])))
ready = time.time()
texts = json.loads(sys.stdin.read())
for start in range(0, len(texts), int(sys.argv[2])):
    clf.predict(texts[start : start + int(sys.argv[2])])
print(json.dumps({"ready_at": ready, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "torch": "torch" in sys.modules, "runtime": getattr(clf, "runtime", "torch")}))
"""


def child_process_figures(texts: list[str], settings: dict) -> dict:
    """Warm-cache start-up time and peak RSS of a fresh process that loads the classifier the way the daemon
    does (`models.loader` with `[classifier]` = settings) and classifies in the stage's calls."""
    started = time.time()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(settings), str(STAGE_MAX_BATCH)],
        input=json.dumps(texts), capture_output=True, text=True, cwd=ROOT, check=True, env=env,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # From launching the interpreter to a classifier ready to predict (imports and checksums included).
    return {**figures, "startup_s": figures["ready_at"] - started}


def cpu_description() -> str:
    """CPU model name and the vector/matrix extensions that matter here."""
    name = "unknown CPU"
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name == "unknown CPU":
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    present = ", ".join(f for f in wanted if f in flags) or "none of avx2/avx512"
    return f"{name} ({os.cpu_count()} CPUs; flags: {present})"


def _mixed_description() -> str:
    """What the shipped "mixed" preset runs: which nodes stay fp32 and whether the int8 ones are smoothed."""
    from models.onnx_runtime import mixed_preset

    preset = mixed_preset()
    where = f"all but {'/'.join(preset.fp32_nodes)}" if preset.fp32_nodes else "all 12 layers"
    smooth = "" if preset.smooth_alpha is None else f", activations smoothed (a = {preset.smooth_alpha:g})"
    if preset.smooth_alpha is not None and preset.outliers:
        smooth += f", {preset.outliers} FFN units per layer fp32"
    return f"dynamic int8 (per-channel){smooth} on {where}"


# (name, description, how to build it); every builder returns an object with predict + probabilities.
def _paths() -> list[tuple[str, str, Callable]]:
    from models.onnx_runtime import OnnxClassifier
    from models.transformer import TransformerClassifier

    return [
        ("torch", "torch predict path (today's, dtype picked by the CPU probe)",
         lambda: TransformerClassifier(threads=THREADS)),
        ("onnx-fp32", "ONNX Runtime fp32, fused attention, length-bucketed batches (`int8 = \"none\"`)",
         lambda: OnnxClassifier(threads=THREADS, int8="none")),
        ("onnx-int8-upper", "ONNX Runtime, dynamic int8 (per-channel) on layers 6-11 (`int8 = \"upper\"`)",
         lambda: OnnxClassifier(threads=THREADS, int8="upper")),
        ("onnx-int8-mixed", f"ONNX Runtime, {_mixed_description()} (`int8 = \"mixed\"`)",
         lambda: OnnxClassifier(threads=THREADS, int8="mixed")),
        ("onnx-int8-static", "ONNX Runtime, the `\"mixed\"` graph with constant activation scales on the nodes "
         "models/weights/int8_static.json lists (`int8 = \"static\"`, default)",
         lambda: OnnxClassifier(threads=THREADS, int8="static")),
        ("onnx-int8-all", "ONNX Runtime, dynamic int8 (per-channel) on all 12 layers (`int8 = \"all\"`)",
         lambda: OnnxClassifier(threads=THREADS, int8="all")),
    ]  # fmt: skip


def measure(n: int = N_TEXTS, rounds: int = ROUNDS, child_n: int = CHILD_TEXTS) -> dict:
    """All figures as a dict (throughputs are medians over `rounds` interleaved runs)."""
    started = time.time()
    load_before = os.getloadavg()[0]
    texts = bench_texts(n)
    child_texts = texts[:child_n]
    children = {}
    for label, settings, runs in (
        ("onnx-fp32", {"runtime": "onnx", "threads": THREADS, "int8": "none"}, 2),
        ("onnx-int8-static", {"runtime": "onnx", "threads": THREADS, "int8": "static"}, 1),
        ("torch", {"runtime": "torch", "threads": THREADS}, 1),
    ):
        child_process_figures(child_texts[:64], settings)  # exports the graph if needed: start-up is timed warm
        got = [child_process_figures(child_texts, settings) for _ in range(runs)]
        children[label] = {
            "startup_s": max(g["startup_s"] for g in got),
            "maxrss_mb": max(g["maxrss_mb"] for g in got),
            "torch_imported": got[0]["torch"],
            "runs": runs,
        }
    plain = PlainFp32()
    built = [(name, desc, make()) for name, desc, make in _paths()]
    plain.probabilities(texts[:64])
    for _, _, clf in built:
        clf.predict(texts[:64])
    times: dict[str, list[float]] = {"plain": [], "torch-32": [], **{name: [] for name, _, _ in built}}
    calls: dict[str, list[int]] = {}
    torch_clf = built[0][2]
    for _ in range(rounds):
        t = time.perf_counter()
        plain.probabilities(texts)
        times["plain"].append(time.perf_counter() - t)
        # Before this round's fix: the stage handed predict at most 32 mentions, in arrival order.
        seconds, calls["torch-32"] = stage_seconds(torch_clf, texts, max_batch=STAGE_BATCH)
        times["torch-32"].append(seconds)
        for name, _, clf in built:
            seconds, calls[name] = stage_seconds(clf, texts)
            times[name].append(seconds)
    figures: dict = {
        "n": len(texts),
        "threads": THREADS,
        "rounds": rounds,
        "cpu": cpu_description(),
        "torch_dtype": str(torch_clf.dtype).replace("torch.", ""),
        "load": (load_before, os.getloadavg()[0]),
        "minutes": (time.time() - started) / 60,
        "children": children,
        "child_texts": len(child_texts),
        "paths": {},
    }
    reference = accuracy(plain.probabilities)
    figures["reference"] = reference
    descriptions = {
        "plain": "plain fp32 torch (transformers BertModel + `tokenizers`), batch 32 in arrival order",
        "torch-32": "torch predict path, stage calls of at most 32 in arrival order (before this change)",
        **{name: desc for name, desc, _ in built},
    }
    by_name = {name: clf for name, _, clf in built}
    for name, timed in times.items():
        ratios = [p / s for p, s in zip(times["plain"], timed, strict=True)]
        acc = reference if name == "plain" else accuracy(by_name.get(name, torch_clf).probabilities)
        figures["paths"][name] = {
            "description": descriptions[name],
            "per_s": len(texts) / statistics.median(timed),
            "speedup": statistics.median(ratios),
            "speedups": ratios,
            "calls": sorted(set(calls.get(name, [32]))),
            **acc,
            "cost": max(reference[k] - acc[k] for k in reference),
        }
    return figures


def to_markdown(f: dict) -> str:
    """The markdown section for docs/benchmarks.md."""
    ref = f["reference"]
    rows = [
        "## Model speed (issue 14)",
        "",
        f"{f['n']:,} tweet-length texts (60% English from TweetEval/complaints val, 40% Japanese from JRTE val), "
        f"{f['threads']} threads, the same weights on every path, on **{f['cpu']}**. Every path except the plain "
        f"reference runs through the real `ClassifyStage` with all texts queued (a backlog: predict gets calls of "
        f"up to {STAGE_MAX_BATCH}), so language checks and the stage's own work are included. Speed-up = median "
        f"of the per-round ratios to plain fp32 ({f['rounds']} interleaved rounds). Accuracy on the full val sets: "
        "TweetEval and JRTE macro-recall, complaints macro-F1 at threshold 0.5; cost = the largest drop against "
        "plain fp32 over the three.",
        "",
        "| path | mentions/s | speed-up vs plain fp32 | TweetEval | complaints | JRTE | cost (points) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, p in f["paths"].items():
        label = p["description"] + (f" [{name}]" if name != "plain" else "")
        if name == "torch":
            label += f" ({f['torch_dtype']})"
        rows.append(
            f"| {label} | {p['per_s']:.0f} | **{p['speedup']:.2f}x** ({', '.join(f'{x:.2f}' for x in p['speedups'])}) "
            f"| {p['tweeteval']:.2f} | {p['complaints']:.2f} | {p['jrte']:.2f} | {p['cost']:+.2f} |"
        )
    rows += [
        "",
        f"Targets: >= 4x plain fp32 (goal 6x) at <= 0.5 points cost on every val set. Reference accuracy "
        f"(plain fp32): TweetEval {ref['tweeteval']:.2f}, complaints {ref['complaints']:.2f}, JRTE {ref['jrte']:.2f}. "
        f"Load average {f['load'][0]:.1f} before, {f['load'][1]:.1f} after, on 2 shared cores: compare the ratios, "
        "not absolute throughputs of different days.",
        "",
        f"Fresh processes loading the classifier as the daemon does (`models.loader`) and classifying "
        f"{f['child_texts']:,} of the texts in the stage's calls of {STAGE_MAX_BATCH} (graph already exported):",
        "",
        "| runtime | peak RSS (target <= 500 MB) | warm start, launch to ready (target <= 5 s) | torch imported |",
        "|---|---|---|---|",
    ]
    for name, c in f["children"].items():
        rows.append(
            f"| {name} | **{c['maxrss_mb']:.0f} MB** | **{c['startup_s']:.1f} s** "
            f"| {'yes' if c['torch_imported'] else 'no'} |"
        )
    rows += [
        "",
        "(Higher / slower of the runs: 2 for onnx-fp32, 1 for the others.) Command: "
        f"`{f.get('command', 'nice -n 10 .venv/bin/python -m benchmarks.run benchmarks.model_speed')}`.",
        "",
    ]
    return "\n".join(rows)


def run() -> str:
    """Run the model benchmarks and return their markdown section."""
    return to_markdown(measure())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=N_TEXTS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--child-texts", type=int, default=CHILD_TEXTS)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = parser.parse_args()
    result = measure(args.n, args.rounds, args.child_texts)
    result["command"] = ".venv/bin/python -m benchmarks.model_speed " + " ".join(sys.argv[1:])
    if args.json:
        print(json.dumps(result, indent=2))
    print(to_markdown(result))
