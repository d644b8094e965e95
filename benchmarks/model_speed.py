"""Model benchmarks: predict() throughput vs plain fp32 at batch 32, accuracy cost, peak RSS, warm start-up."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
N_TEXTS = 5000
THREADS = 2


def _column(path: Path, column: str = "text") -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def _labelled(path: Path) -> tuple[list[str], list[int]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def bench_texts(n: int = N_TEXTS, seed: int = 7) -> list[str]:
    """n tweet-length texts, 60% English (TweetEval + complaints val), 40% Japanese (JRTE val), shuffled."""
    rng = random.Random(seed)
    english = _column(DATA / "tweeteval_sentiment" / "val.csv") + _column(DATA / "complaints" / "val.csv")
    japanese = _column(DATA / "jrte_pn_ja" / "val.csv")
    n_ja = n * 2 // 5
    texts = [rng.choice(english) for _ in range(n - n_ja)] + [rng.choice(japanese) for _ in range(n_ja)]
    rng.shuffle(texts)
    return texts


class PlainFp32:
    """The reference: the same merged weights entirely in fp32, batches of 32 in arrival order, padded per batch."""

    def __init__(self, fast) -> None:
        import copy

        import torch

        self.torch = torch
        self.tokenizer = fast.tokenizer
        self.net = copy.deepcopy(fast.net).float().eval()

    def probabilities(self, texts: list[str]):
        """Sentiment probabilities [N, 3] and complaint probability [N]."""
        torch = self.torch
        sent, comp = [], []
        with torch.no_grad():
            for start in range(0, len(texts), 32):
                enc = self.tokenizer(
                    texts[start : start + 32], padding=True, truncation=True, max_length=128, return_tensors="pt"
                )
                s, c = self.net(enc["input_ids"], enc["attention_mask"])
                sent.append(s.softmax(-1))
                comp.append(torch.sigmoid(c))
        return torch.cat(sent), torch.cat(comp)


def _macro_recall(gold: list[int], probs) -> float:
    from models.evaluate import SENTIMENT_CLASSES, score

    return 100 * score(gold, probs.argmax(-1).tolist(), SENTIMENT_CLASSES).macro_recall


_CHILD = r"""
import json, resource, sys, time
from models.transformer import TransformerClassifier
clf = TransformerClassifier(threads=2)
ready = time.time()
texts = json.loads(sys.stdin.read())
clf.predict(texts)
print(json.dumps({"ready_at": ready, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child_process_figures(texts: list[str]) -> dict[str, float]:
    """Warm-cache start-up time and peak RSS of a fresh process that loads the model and classifies."""
    root = Path(__file__).resolve().parents[1]
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], input=json.dumps(texts), capture_output=True, text=True, cwd=root, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # From launching the interpreter to a classifier ready to predict (imports included).
    return {"startup_s": figures["ready_at"] - started, "maxrss_mb": figures["maxrss_mb"]}


def measure() -> dict[str, float]:
    """All figures as a dict."""
    import torch

    from models.transformer import TransformerClassifier

    texts = bench_texts()
    child_process_figures(texts[:64])  # make sure the cache is warm before timing start-up
    child = child_process_figures(texts)
    fast = TransformerClassifier(threads=THREADS)
    plain = PlainFp32(fast)
    fast.predict(texts[:64])
    plain.probabilities(texts[:64])
    t = time.perf_counter()
    fast.predict(texts)
    fast_s = time.perf_counter() - t
    t = time.perf_counter()
    plain.probabilities(texts)
    plain_s = time.perf_counter() - t
    figures = {
        "n": len(texts),
        "threads": THREADS,
        "torch_threads": torch.get_num_threads(),
        "dtype": str(fast.dtype).replace("torch.", ""),
        "quantized": fast.quantized,
        "fast_per_s": len(texts) / fast_s,
        "plain_per_s": len(texts) / plain_s,
        **child,
    }
    figures["speedup"] = figures["fast_per_s"] / figures["plain_per_s"]
    for name, path in (("tweeteval", "tweeteval_sentiment/val.csv"), ("jrte", "jrte_pn_ja/val.csv")):
        val_texts, gold = _labelled(DATA / path)
        figures[f"{name}_fp32"] = _macro_recall(gold, plain.probabilities(val_texts)[0])
        figures[f"{name}_fast"] = _macro_recall(gold, fast.probabilities(val_texts)[0])
    return figures


def to_markdown(f: dict[str, float]) -> str:
    """The markdown section for docs/benchmarks.md."""
    return "\n".join(
        [
            "## Model speed (issue 3)",
            "",
            f"{f['n']:,} tweet-length texts (60% English from TweetEval/complaints val, 40% Japanese from JRTE val), "
            f"{f['threads']} torch threads, same weights in both columns.",
            "",
            "| path | mentions/s |",
            "|---|---|",
            f"| `predict()` fast path ({f['dtype']}{', int8 dynamic' if f['quantized'] else ''}, length-bucketed, "
            f"inference mode; includes language check) | {f['fast_per_s']:.0f} |",
            f"| plain fp32, batch 32 in arrival order, padded per batch | {f['plain_per_s']:.0f} |",
            f"| speed-up | {f['speedup']:.2f}x (target >= 3x) |",
            "",
            "| macro-recall (val) | plain fp32 | fast path | cost |",
            "|---|---|---|---|",
            f"| TweetEval | {f['tweeteval_fp32']:.2f} | {f['tweeteval_fast']:.2f} | "
            f"{f['tweeteval_fp32'] - f['tweeteval_fast']:+.2f} |",
            f"| JRTE (Japanese) | {f['jrte_fp32']:.2f} | {f['jrte_fast']:.2f} | {f['jrte_fp32'] - f['jrte_fast']:+.2f} |",
            "",
            f"- Peak RSS of a fresh process that loads the model and classifies the {f['n']:,} texts: "
            f"**{f['maxrss_mb']:.0f} MB** (target <= 700 MB).",
            f"- Start-up with a warm cache (process start to classifier ready, imports included): "
            f"**{f['startup_s']:.1f} s** (target <= 10 s).",
            "",
        ]
    )


def run() -> str:
    """Run the model benchmarks and return their markdown section."""
    return to_markdown(measure())


if __name__ == "__main__":
    print(run())
