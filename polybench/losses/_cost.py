"""What a loss costs next to cross-entropy on one batch shape and device: the loss cost ratio.

A run's training throughput mixes the model, the data pipeline and the machine's load with the
loss, and the spread between runs of the same loss can exceed the difference between losses.
The loss cost ratio isolates the loss: forward plus backward of each loss on random logits of
the task's real batch shape `(batch, classes)`, against `cross_entropy` on the same tensors,
interleaved in a fresh random order every round so that load hits all alike (as
`benchmarks/losses.py` does). The runner measures it once per study and task and stores it.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from polybench.losses._registry import build_loss
from polybench.vocab import BASELINE_LOSS


@dataclass(frozen=True)
class LossCost:
    """`ratio` is the median over rounds of (loss time / cross_entropy time) in the same round;
    `ratio_low`, `ratio_high` the 25th and 75th percentiles of those per-round ratios;
    `seconds` the loss's median forward + backward time."""

    loss: str
    ratio: float
    ratio_low: float
    ratio_high: float
    seconds: float
    rounds: int


def measure_loss_costs(
    losses: Mapping[str, Mapping[str, Any]] | Sequence[str],
    *,
    batch: int,
    classes: int,
    device: str | torch.device = "cpu",
    budget_seconds: float = 1.0,
    min_rounds: int = 20,
    max_rounds: int = 300,
    seed: int = 0,
) -> dict[str, LossCost]:
    """Loss cost ratios against `cross_entropy` (always measured too, ratio 1) for `losses`
    (names, or name -> hyperparameters), on logits `(batch, classes)` with index targets.

    Rounds: as many as fit `budget_seconds` after three warm-up rounds, within
    `[min_rounds, max_rounds]`.
    """
    items = dict(losses) if isinstance(losses, Mapping) else {name: {} for name in losses}
    items.setdefault(BASELINE_LOSS, {})
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(batch, classes, generator=generator) * 3).to(device)
    target = torch.randint(0, classes, (batch,), generator=generator).to(device)
    multi_hot = torch.nn.functional.one_hot(target, classes).to(logits.dtype)
    modules = {name: build_loss(name, **params).to(device) for name, params in items.items()}
    targets = {name: multi_hot if "sigmoid" in name else target for name in modules}
    leaf = logits.clone().requires_grad_(True)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def one_round(order: list[str]) -> dict[str, float]:
        seconds = {}
        for name in order:
            leaf.grad = None
            sync()
            start = time.perf_counter()
            modules[name](leaf, targets[name]).backward()
            sync()
            seconds[name] = time.perf_counter() - start
        return seconds

    order = list(modules)
    shuffler = random.Random(seed)
    for _ in range(3):
        shuffler.shuffle(order)
        warm = one_round(order)
    per_round = max(sum(warm.values()), 1e-9)
    rounds = int(min(max_rounds, max(min_rounds, budget_seconds / per_round)))
    times: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(rounds):
        shuffler.shuffle(order)
        for name, value in one_round(order).items():
            times[name].append(value)
    costs = {}
    for name, values in times.items():
        ratios = sorted(a / b for a, b in zip(values, times[BASELINE_LOSS], strict=True))
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        costs[name] = LossCost(
            loss=name,
            ratio=statistics.median(ratios),
            ratio_low=quartiles[0],
            ratio_high=quartiles[2],
            seconds=statistics.median(values),
            rounds=rounds,
        )
    return costs
