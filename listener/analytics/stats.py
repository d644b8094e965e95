"""Small statistics helpers whose results a plain SQL query can reproduce exactly."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Linear-interpolation percentile of already sorted values (None when empty).

    With rank r = (n - 1) * fraction, i = floor(r) and w = r - i, the result is
    v[i] * (1 - w) + v[i + 1] * w: written this way so the SQL in docs/analytics.md gives the
    very same float.
    """
    if not ordered:
        return None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    rank = (len(ordered) - 1) * fraction
    low = int(rank)
    weight = rank - low
    value = ordered[low] * (1 - weight)
    if low + 1 < len(ordered):
        value += ordered[low + 1] * weight
    return value
