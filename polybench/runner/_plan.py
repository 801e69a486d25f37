"""The plan of a study: which Optuna studies it makes, their search spaces and budgets.

Pure functions of a `StudyConfig`; `--dry-run` prints `StudyPlan.describe()`, the workers
follow the same plan, and `planned_runs` is what a finished study stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from polybench.config import TUNABLE_SETTINGS, LossSpec, Range, StudyConfig, TaskSpec

if TYPE_CHECKING:
    import optuna

DEFAULT_TRIALS = 10
CONFIRM_SEED_OFFSET = 1000
BASELINE_LOSS = "cross_entropy"


@dataclass(frozen=True)
class Param:
    """One searched parameter: a loss hyperparameter or a training setting (`tune`)."""

    name: str
    target: Literal["loss", "training"]
    range: Range
    integer: bool = False

    def suggest(self, trial: optuna.Trial) -> Any:
        spec = self.range
        if spec.values is not None:
            return trial.suggest_categorical(self.name, list(spec.values))
        assert spec.low is not None and spec.high is not None
        if self.integer:
            step = int(spec.step) if spec.step else 1
            return trial.suggest_int(
                self.name, int(spec.low), int(spec.high), step=step, log=spec.log
            )
        return trial.suggest_float(self.name, spec.low, spec.high, step=spec.step, log=spec.log)

    def describe(self) -> str:
        spec = self.range
        if spec.values is not None:
            return f"{self.name} in {{{', '.join(map(str, spec.values))}}}"
        scale = ", log" if spec.log else ""
        return f"{self.name} in [{spec.low:g}, {spec.high:g}{scale}]"


@dataclass(frozen=True)
class PairPlan:
    """The work for one (task, loss): `trials` search trials, then one confirm run per seed.

    A baseline pair (plain cross-entropy added for the confirm phase) has no search study.
    """

    study: str
    task: TaskSpec
    model: str
    loss: LossSpec
    trials: int
    space: tuple[Param, ...]
    confirm_seeds: tuple[int, ...]
    baseline_only: bool = False

    @property
    def search_study(self) -> str:
        return f"{self.study}/{self.task.task}/{self.loss.loss}"

    @property
    def confirm_study(self) -> str:
        return f"{self.search_study}/confirm"

    @property
    def planned_runs(self) -> int:
        return self.trials + len(self.confirm_seeds)

    @property
    def grid(self) -> dict[str, list[Any]]:
        return {p.name: list(p.range.values or []) for p in self.space}

    def split(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Sampled values -> (loss params incl. the fixed ones, training settings)."""
        targets = {p.name: p.target for p in self.space}
        loss_params = dict(self.loss.params)
        settings: dict[str, Any] = {}
        for name, value in values.items():
            if targets.get(name) == "training":
                settings[name] = value
            else:
                loss_params[name] = value
        return loss_params, settings


@dataclass(frozen=True)
class StudyPlan:
    config: StudyConfig
    pairs: tuple[PairPlan, ...]

    @property
    def planned_runs(self) -> int:
        return sum(pair.planned_runs for pair in self.pairs)

    @property
    def search_runs(self) -> int:
        return sum(pair.trials for pair in self.pairs)

    @property
    def confirm_runs(self) -> int:
        return sum(len(pair.confirm_seeds) for pair in self.pairs)

    def describe(self) -> str:
        """A few lines for `--dry-run`: tasks x losses x trials, and the confirm runs."""
        config = self.config
        search = config.search
        tasks = [t.task for t in config.tasks]
        losses = [loss.loss for loss in config.losses]
        lines = [
            f"study {config.name!r}: {len(tasks)} task(s) x {len(losses)} loss(es); sampler "
            f"{search.sampler}, pruner {search.pruner}, objective "
            f"{' + '.join(search.objectives)}",
        ]
        for pair in self.pairs:
            space = ", ".join(p.describe() for p in pair.space) or "nothing to tune"
            search_text = (
                "baseline for the confirm phase, no search"
                if pair.baseline_only
                else f"{pair.trials} trial(s) over {space}"
            )
            lines.append(
                f"  {pair.task.task} / {pair.model} / {pair.loss.loss}: {search_text}; "
                f"{len(pair.confirm_seeds)} confirm run(s)"
            )
        seeds = self.pairs[0].confirm_seeds if self.pairs else ()
        lines.append(
            f"total: {self.search_runs} search run(s) + {self.confirm_runs} confirm run(s) = "
            f"{self.planned_runs} run(s); confirm seeds {list(seeds)}"
        )
        return "\n".join(lines)


def build_plan(config: StudyConfig) -> StudyPlan:
    """The plan of a validated study: one `PairPlan` per (task, loss), plus baselines."""
    from polybench.losses import get_loss_class
    from polybench.tasks import TASKS

    seeds = tuple(config.seed + CONFIRM_SEED_OFFSET + i for i in range(config.confirm.seeds))
    tune = tuple(
        Param(name, "training", spec, integer=TUNABLE_SETTINGS[name][0] is int)
        for name, spec in config.tune.items()
    )
    pairs: list[PairPlan] = []
    for task in config.tasks:
        model = task.model or TASKS[task.task].defaults.model
        for loss in config.losses:
            declared = {hp.name: hp for hp in get_loss_class(loss.loss).hyperparams}
            space = (
                tuple(
                    Param(n, "loss", spec, integer=declared[n].kind == "int")
                    for n, spec in loss.search.items()
                )
                + tune
            )
            pairs.append(
                PairPlan(
                    study=config.name,
                    task=task,
                    model=model,
                    loss=loss,
                    trials=_budget(config, space),
                    space=space,
                    confirm_seeds=seeds,
                )
            )
        listed = {loss.loss for loss in config.losses}
        if seeds and config.confirm.baseline and BASELINE_LOSS not in listed:
            pairs.append(
                PairPlan(
                    study=config.name,
                    task=task,
                    model=model,
                    loss=LossSpec(loss=BASELINE_LOSS),
                    trials=0,
                    space=(),
                    confirm_seeds=seeds,
                    baseline_only=True,
                )
            )
    return StudyPlan(config=config, pairs=tuple(pairs))


def _budget(config: StudyConfig, space: tuple[Param, ...]) -> int:
    """Search trials of one pair: one when there is nothing to tune; the grid size (capped by
    `search.trials` when given) with the grid sampler; else `search.trials` (default 10)."""
    if not space:
        return 1
    if config.search.sampler == "grid":
        size = 1
        for param in space:
            size *= param.range.size or 1
        return min(size, config.search.trials) if config.search.trials else size
    return config.search.trials or DEFAULT_TRIALS
