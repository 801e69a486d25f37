"""Samplers and pruners users pick by name in a study file (`search.sampler`, `search.pruner`).

Each entry builds a fresh Optuna object for one (task, loss) study from a `SearchContext`;
adding one is one function plus one line in the registry. Optuna is imported inside the
factories so that validating a study file stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polybench.registry import Registry

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class SearchContext:
    """What a sampler or pruner needs to know about the study it serves.

    `grid` maps each searched parameter to its values (grid sampler); `trials` is the budget of
    the (task, loss) study; `epochs` the most epochs a trial trains (hyperband's max resource).
    """

    seed: int
    trials: int
    epochs: int
    objectives: int = 1
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)


def _tpe(context: SearchContext) -> optuna.samplers.BaseSampler:
    import optuna

    # Optuna's default of 10 random start-up trials would leave small budgets all random.
    startup = max(1, min(10, context.trials // 3))
    return optuna.samplers.TPESampler(seed=context.seed, n_startup_trials=startup)


def _random(context: SearchContext) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=context.seed)


def _grid(context: SearchContext) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.GridSampler(
        {name: list(values) for name, values in context.grid.items()}, seed=context.seed
    )


def _cmaes(context: SearchContext) -> optuna.samplers.BaseSampler:
    import optuna

    startup = max(1, min(10, context.trials // 3))
    return optuna.samplers.CmaEsSampler(
        seed=context.seed, n_startup_trials=startup, warn_independent_sampling=False
    )


def _nsga2(context: SearchContext) -> optuna.samplers.BaseSampler:
    import optuna

    population = max(2, min(50, context.trials // 2))
    return optuna.samplers.NSGAIISampler(seed=context.seed, population_size=population)


def _no_pruner(context: SearchContext) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.NopPruner()


def _median(context: SearchContext) -> optuna.pruners.BasePruner:
    import optuna

    # Never prune on the first epoch nor before two trials have finished.
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)


def _hyperband(context: SearchContext) -> optuna.pruners.BasePruner:
    import optuna

    return optuna.pruners.HyperbandPruner(
        min_resource=1, max_resource=max(1, context.epochs), reduction_factor=3
    )


SAMPLERS: Registry[Callable[[SearchContext], optuna.samplers.BaseSampler]] = Registry(
    "sampler",
    entries={"tpe": _tpe, "random": _random, "grid": _grid, "cmaes": _cmaes, "nsga2": _nsga2},
)

PRUNERS: Registry[Callable[[SearchContext], optuna.pruners.BasePruner]] = Registry(
    "pruner", entries={"none": _no_pruner, "median": _median, "hyperband": _hyperband}
)
