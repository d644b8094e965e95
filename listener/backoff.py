"""Exponential backoff with jitter and a cap; a server's Retry-After always wins."""

from __future__ import annotations

import random


class Backoff:
    """Delay before the next attempt after `failures` consecutive failures."""

    def __init__(self, base: float, cap: float, *, jitter: float = 0.1, rng: random.Random | None = None) -> None:
        self.base = max(base, 0.0)
        self.cap = max(cap, self.base)
        self.jitter = jitter
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self, retry_after: float | None = None) -> float:
        """Count one more failure and return how long to wait (seconds)."""
        self.failures += 1
        if retry_after is not None and retry_after >= 0:
            # The server knows best, but never hammer it faster than our own base.
            return min(max(retry_after, 0.0), max(self.cap, retry_after))
        delay = min(self.cap, self.base * 2 ** (self.failures - 1))
        spread = delay * self.jitter
        return max(0.0, delay + self._rng.uniform(-spread, spread))

    def reset(self) -> None:
        """Forget past failures after a success."""
        self.failures = 0


def delay_for_attempt(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Stateless form: delay after the `attempts`-th failed attempt (1-based), with ±10% jitter."""
    delay = min(cap, base * 2 ** max(attempts - 1, 0))
    return max(0.0, delay * (1 + (rng or random).uniform(-0.1, 0.1)))
