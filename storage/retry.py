"""When to try a failed job again: a pure function of the attempt and the time spent."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off with full jitter, bounded in delay and in total time.

    The defaults spread about fifteen attempts over two days, close to what
    Mastodon does for its deliveries (16 retries over 2–3 days), so a peer that
    is down for a weekend still gets what we sent.
    """

    base: float = 30.0
    factor: float = 2.0
    max_delay: float = 6 * 3600.0
    max_elapsed: float = 2 * 24 * 3600.0
    max_attempts: int = 20

    def delay(
        self, attempt: int, elapsed: float, rng: random.Random | None = None
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up.

        ``attempt`` counts the attempts made so far (1 after the first failure);
        ``elapsed`` is the time since the job was first enqueued.  The delay is
        drawn from [ceiling/2, ceiling] so that jobs failing together do not all
        come back together; the lower half keeps the back-off real.
        """
        if attempt >= self.max_attempts or elapsed >= self.max_elapsed:
            return None
        ceiling = min(self.max_delay, self.base * self.factor ** max(attempt - 1, 0))
        jitter = (rng or random).uniform(0.5, 1.0)
        delay = ceiling * jitter
        # Never plan a retry past the deadline: the last one lands on it.
        return min(delay, max(self.max_elapsed - elapsed, 0.0))


DEFAULT_POLICY = RetryPolicy()
