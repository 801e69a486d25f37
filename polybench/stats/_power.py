"""What a paired t-test over n seeds could have detected: power, minimum detectable difference.

For a two-sided paired t-test at level alpha over n paired differences with standard deviation
s_d, the power at a true mean difference delta is `P(|T| > t_crit)` where T follows the
noncentral t distribution with n - 1 degrees of freedom and noncentrality
`delta * sqrt(n) / s_d` (`scipy.stats.nct`). Everything here works on the standardized effect
d_z = delta / s_d, so the minimum detectable difference in the metric's units is
`detectable_effect(n, alpha) * s_d`.

Reference points (alpha = 0.05 / 3, the worst case of Holm over 3 losses, 80% power):
d_z = 5.67 at n = 3, 2.29 at n = 5, 1.22 at n = 10; d_z = 0.5 needs 45 seeds.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy import stats as scipy_stats

POWER = 0.8
"""The power at which the minimum detectable difference is stated."""
MAX_SEEDS = 100_000


def paired_power(effect: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t-test over `n` pairs at standardized effect d_z `effect`."""
    if n < 2:
        raise ValueError(f"a paired t-test needs n >= 2 pairs; got n={n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    df = n - 1
    noncentrality = abs(effect) * math.sqrt(n)
    critical = scipy_stats.t.ppf(1 - alpha / 2, df)
    upper = float(scipy_stats.nct.sf(critical, df, noncentrality))
    lower = float(scipy_stats.nct.cdf(-critical, df, noncentrality))
    if not math.isfinite(lower):
        # scipy's nct returns NaN far in the tail; the tail is below Phi(-noncentrality) there
        lower = 0.0
    return min(1.0, upper + lower)


def detectable_effect(n: int, alpha: float, power: float = POWER) -> float:
    """The standardized effect d_z that a paired t-test over `n` pairs detects with `power`."""
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1); got {power}")
    if paired_power(0.0, n, alpha) >= power:
        return 0.0
    high = 1.0
    while paired_power(high, n, alpha) < power:
        high *= 2
    return float(optimize.brentq(lambda e: paired_power(e, n, alpha) - power, 0.0, high))


def minimum_detectable_difference(
    sd_diff: float, n: int, alpha: float, power: float = POWER
) -> float:
    """The mean difference (metric units) detected with `power` given the SD of the differences.

    NaN when the SD is not a finite positive number or n < 2.
    """
    if n < 2 or not np.isfinite(sd_diff) or sd_diff < 0:
        return np.nan
    return detectable_effect(n, alpha, power) * float(sd_diff)


def seeds_needed(effect: float, alpha: float, power: float = POWER) -> int:
    """The fewest pairs n for which the paired t-test detects d_z = `effect` with `power`.

    Raises ValueError for a zero effect (nothing detects it).
    """
    if not np.isfinite(effect) or effect == 0:
        raise ValueError(f"seeds_needed needs a nonzero finite effect; got {effect}")
    low, high = 2, 2
    while paired_power(effect, high, alpha) < power:
        low, high = high, high * 2
        if high > MAX_SEEDS:
            raise ValueError(f"d_z={effect} needs more than {MAX_SEEDS:,} seeds")
    while low < high:
        middle = (low + high) // 2
        if paired_power(effect, middle, alpha) >= power:
            high = middle
        else:
            low = middle + 1
    return high
