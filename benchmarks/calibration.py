"""How well polybench's verdicts keep their promises: coverage, false positives and power.

Not a speed benchmark: it simulates the statistics of `polybench.stats` with fixed RNG seeds and
prints

1. the coverage of the headline 95% interval (Student t; paired t for Δ) against the percentile
   bootstrap over seeds, at 3, 5 and 10 seeds, on normal, moderately skewed (gamma, shape 4,
   skewness 1) and strongly skewed (exponential, skewness 2) scores;
2. the family-wise false-positive rate of the verdicts on all-noise studies (3 losses against
   cross-entropy, Holm-adjusted), at 3 and 5 seeds;
3. the power reference points of docs (d_z detected with 80% power at alpha = 0.05 / 3).

    python benchmarks/calibration.py            # about 20 s on one core
"""

from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats

from polybench import stats

REPLICATIONS = 2_000
RESAMPLES = 1_000

DISTRIBUTIONS = {
    "normal": (lambda rng, size: rng.normal(0.9, 0.01, size), 0.9),
    "gamma(4), skew 1": (lambda rng, size: rng.gamma(4.0, 0.005, size), 0.02),
    "exponential, skew 2": (lambda rng, size: rng.exponential(0.01, size), 0.01),
}


def coverage() -> None:
    print("1. Coverage of a 95% interval of the mean, 2,000 replications each")
    print(f"{'distribution':<22} {'n':>3} {'t-interval':>11} {'bootstrap':>10}")
    for name, (draw, truth) in DISTRIBUTIONS.items():
        for n in (3, 5, 10):
            rng = np.random.default_rng(10_000 + n)
            samples = draw(rng, (REPLICATIONS, n))
            mean = samples.mean(axis=1)
            half = scipy_stats.t.ppf(0.975, n - 1) * samples.std(axis=1, ddof=1) / np.sqrt(n)
            t_cover = np.mean((mean - half <= truth) & (truth <= mean + half))
            index = rng.integers(0, n, size=(RESAMPLES, n))
            means = samples[:, index].mean(axis=2)
            low, high = np.quantile(means, [0.025, 0.975], axis=1)
            boot_cover = np.mean((low <= truth) & (truth <= high))
            print(f"{name:<22} {n:>3} {t_cover:>11.3f} {boot_cover:>10.3f}")
    print()
    print("   Coverage of the paired t-interval of Δ (shared seed effect, skewed noise)")
    for name, (draw, _) in DISTRIBUTIONS.items():
        row = []
        for n in (3, 5, 10):
            rng = np.random.default_rng(20_000 + n)
            seed_effect = rng.normal(0, 0.01, (REPLICATIONS, n))
            d = (seed_effect + draw(rng, (REPLICATIONS, n))) - (
                seed_effect + draw(rng, (REPLICATIONS, n)) - 0.003
            )
            mean = d.mean(axis=1)
            half = scipy_stats.t.ppf(0.975, n - 1) * d.std(axis=1, ddof=1) / np.sqrt(n)
            row.append(f"n={n}: {np.mean((mean - half <= 0.003) & (mean + half >= 0.003)):.3f}")
        print(f"   {name:<22} " + "  ".join(row))
    print()


def false_positives() -> None:
    print("2. All-noise studies (3 losses vs cross-entropy, no true effect), 2,000 each")
    for n in (3, 5):
        rng = np.random.default_rng(42 + n)
        seed_effect = rng.normal(0, 0.01, (REPLICATIONS, 1, n))
        scores = 0.9 + seed_effect + rng.normal(0, 0.005, (REPLICATIONS, 4, n))
        any_call = raw_call = 0
        for study in scores:
            base, others = study[0], study[1:]
            tests = [stats.paired_t_test(other, base) for other in others]
            adjusted = stats.holm([t.p_value for t in tests])
            verdicts = [
                stats.verdict_of(p, (other - base).mean(), True, 0.05)
                for p, other in zip(adjusted, others, strict=True)
            ]
            any_call += any(v in ("better", "worse") for v in verdicts)
            raw_call += any(t.p_value < 0.05 for t in tests)
        print(
            f"   n={n}: a study calls something better or worse in {any_call / REPLICATIONS:.3f} "
            f"of studies (Holm); {raw_call / REPLICATIONS:.3f} without Holm"
        )
    print()


def power() -> None:
    alpha = 0.05 / 3
    print("3. Power at alpha = 0.05 / 3 (Holm's strictest level with 3 losses), 80% power")
    for n in (3, 5, 10):
        print(f"   n={n}: detectable d_z = {stats.detectable_effect(n, alpha):.2f}")
    print(f"   d_z = 0.5 needs {stats.seeds_needed(0.5, alpha)} seeds")


if __name__ == "__main__":
    coverage()
    false_positives()
    power()
