"""The retry policy is pure: checked on its own, by hand and by hypothesis."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from storage.retry import DEFAULT_POLICY, RetryPolicy


def test_backs_off_exponentially_within_jitter() -> None:
    policy = RetryPolicy(base=10, factor=2, max_delay=1000)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (8, 1000)]:
        delay = policy.delay(attempt, 0, rng)
        assert delay is not None
        assert ceiling / 2 <= delay <= ceiling


def test_gives_up_on_attempts_or_time() -> None:
    policy = RetryPolicy(max_attempts=3, max_elapsed=100)
    assert policy.delay(3, 0) is None
    assert policy.delay(1, 100) is None
    assert policy.delay(1, 99.5) == 0.5  # never planned past the deadline


def test_default_policy_spans_about_two_days() -> None:
    rng = random.Random(1)
    elapsed, attempts = 0.0, 0
    while (delay := DEFAULT_POLICY.delay(attempts + 1, elapsed, rng)) is not None:
        elapsed += delay
        attempts += 1
    assert 10 <= attempts <= DEFAULT_POLICY.max_attempts
    assert 1.5 * 86400 <= elapsed <= DEFAULT_POLICY.max_elapsed


@given(st.integers(min_value=0, max_value=10_000), st.floats(0, 1e9))
def test_delay_is_bounded(attempt: int, elapsed: float) -> None:
    delay = DEFAULT_POLICY.delay(attempt, elapsed)
    assert delay is None or 0 <= delay <= DEFAULT_POLICY.max_delay
