"""The statistics a leaderboard needs, exact where it can be: Wilson interval, pass@k, McNemar.

Small samples are the norm here (a nightly subset of a few dozen instances), so the
interval is Wilson's (sane at 0% and 100%, unlike the normal approximation) and the
paired test is McNemar's exact binomial form, computed with integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import Sequence

import numpy as np


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None when there is nothing to estimate."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, not 1e-17 off
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated quantile (numpy's default); None for no values."""
    if len(values) == 0:
        return None
    return float(np.quantile(np.asarray(values, dtype=float), q))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one instance with n attempts of which c resolved (Chen et al., 2021).

    1 - C(n-c, k) / C(n, k): the chance that k attempts drawn without replacement from the
    n made include at least one success.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@dataclass(frozen=True)
class Pass1:
    mean: float  # mean over attempts of each attempt's resolve rate
    se: float | None  # standard error of that mean across attempts; None with one attempt


def pass1_over_attempts(rates: Sequence[float]) -> Pass1:
    """pass@1 as the mean of per-attempt resolve rates, with the standard error across attempts."""
    if len(rates) == 0:
        raise ValueError("no attempts")
    arr = np.asarray(rates, dtype=float)
    se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else None
    return Pass1(mean=float(arr.mean()), se=se)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts b and c.

    Under the null each discordant pair is equally likely to go either way, so
    min(b, c) ~ Binomial(b + c, 1/2); the p-value doubles the smaller tail, capped at 1.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts cannot be negative")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))
