"""Rolling-baseline spike detection over hourly buckets."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listener.noise import (
    HourlySeries,
    SpikeSettings,
    detect_spikes,
    hourly_buckets,
    negative_share_spike,
    volume_spike,
)


def noisy_baseline(mean: float, hours: int = 14 * 24, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    return [max(0, round(rng.gauss(mean, math.sqrt(mean)))) for _ in range(hours)]


def test_volume_spike_against_mean_plus_k_sigma() -> None:
    baseline = noisy_baseline(20)
    mean = sum(baseline) / len(baseline)
    check = volume_spike(baseline, 60)
    assert check.spike and check.reason == "spike"
    assert check.mean == pytest.approx(mean)
    assert check.threshold == pytest.approx(mean + 3 * check.sigma)
    assert not volume_spike(baseline, 28).spike
    assert "volume 60 vs mean" in check.explain()


def test_flat_baseline_needs_more_than_one_extra_mention() -> None:
    baseline = [2] * 48  # sigma 0: floored at sqrt(mean) so 3 mentions is not a spike
    assert not volume_spike(baseline, 3, min_count=1).spike
    assert volume_spike(baseline, 9, min_count=1).spike


def test_minimum_count_and_warm_up() -> None:
    quiet = [0] * 48
    assert volume_spike(quiet, 9).reason == "below min_count 10"
    assert volume_spike(quiet, 10).spike
    assert volume_spike([0] * 10, 50).reason == "warming up (10 of 24 h)"


def test_negative_share_spike() -> None:
    totals = noisy_baseline(40, seed=1)
    rng = random.Random(3)
    negatives = [sum(rng.random() < 0.1 for _ in range(t)) for t in totals]
    check = negative_share_spike(totals, negatives, 40, 20)
    assert check.spike and check.value == pytest.approx(0.5)
    assert 0.07 < check.mean < 0.13
    assert not negative_share_spike(totals, negatives, 40, 5).spike
    assert negative_share_spike(totals, negatives, 8, 8).reason == "below min_count 10"
    with pytest.raises(ValueError, match="exceed"):
        negative_share_spike([1], [2], 1, 0)


def test_detect_spikes_per_brand_and_source_uses_the_window() -> None:
    calm = noisy_baseline(20)
    # An old burst outside the 14-day window must not inflate the baseline.
    old_burst = [500] * 24
    series = {
        ("acme", "mastodon"): HourlySeries(totals=old_burst + calm + [90], negatives=[0] * (24 + len(calm)) + [60]),
        ("acme", "reddit"): HourlySeries(totals=[*calm, 22], negatives=[*([2] * len(calm)), 3]),
    }
    spikes = detect_spikes(series, SpikeSettings())
    assert [(s.brand, s.source, s.rule, s.subject) for s in spikes] == [
        ("acme", "mastodon", "spike.volume", "acme/mastodon"),
        ("acme", "mastodon", "spike.negative_share", "acme/mastodon"),
    ]
    assert spikes[0].check.baseline_hours == 14 * 24


def test_hourly_buckets_fill_missing_hours() -> None:
    end = datetime(2026, 1, 12, 12, 30, tzinfo=UTC)
    counts = {
        datetime(2026, 1, 12, 12, 5, tzinfo=UTC): 3,
        datetime(2026, 1, 12, 9, 0, tzinfo=UTC): 2,
        datetime(2026, 1, 12, 12, 59, tzinfo=UTC): 1,
        datetime(2026, 1, 11, 0, 0, tzinfo=UTC): 9,
    }
    assert hourly_buckets(counts, end, 5) == [0, 2, 0, 0, 4]
    assert len(hourly_buckets({}, end, 24 * 14)) == 336
    assert hourly_buckets(counts, end + timedelta(hours=1), 2) == [4, 0]


@settings(max_examples=100, deadline=None)
@given(
    baseline=st.lists(st.integers(min_value=0, max_value=200), min_size=24, max_size=200),
    current=st.integers(min_value=0, max_value=1000),
)
def test_volume_spike_is_monotonic_in_the_current_count(baseline: list[int], current: int) -> None:
    check = volume_spike(baseline, current)
    if check.spike:
        assert volume_spike(baseline, current + 1).spike
        assert current > max(sum(baseline) / len(baseline), 0)
