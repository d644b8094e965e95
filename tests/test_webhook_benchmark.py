"""The webhook benchmark's harness works end to end on a small run (the numbers live in docs/benchmarks.md)."""

from __future__ import annotations

from benchmarks.webhooks import _row, bench_webhooks


def test_a_small_webhook_benchmark_stores_and_classifies_every_delivery() -> None:
    result = bench_webhooks(n=20, concurrency=4, warmup=2)
    assert (result["deliveries"], result["stored"], result["classified"]) == (20, 20, 20)
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert _row(result).startswith("| 20 deliveries, 4 in flight |")
