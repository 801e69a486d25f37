"""The plan of a study: which Optuna studies it makes, their search spaces and budgets.

Pure functions of a `StudyConfig`; `--dry-run` prints `StudyPlan.describe()`, the workers
follow the same plan, and `planned_runs` is what a finished study stores.

Budgets are equal by construction: every loss gets the study's `search.trials`, cross-entropy
included (without a `search:` of its own it searches `label_smoothing` over its registered
range, and every loss inherits the shared `tune:` block). A loss with nothing at all to tune
gets one trial, and the plan says why (`PairPlan.budget_note`). `budget_problems` lists what
makes budgets unequal beyond repair (grids of different sizes), for the study file's checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from polybench.config import TUNABLE_SETTINGS, LossEntry, Range, StudyConfig, TaskEntry
from polybench.vocab import BASELINE_LOSS

if TYPE_CHECKING:
    import optuna

DEFAULT_TRIALS = 10
CONFIRM_SEED_OFFSET = 1000
# What the baseline searches when its entry has no `search:` (its registered search range).
BASELINE_DEFAULT_SEARCH = ("label_smoothing",)
VARIANCE_SOURCES = ("init", "order", "split")


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
class ConfirmSeed:
    """The seeds of one confirm run: `seed` pairs runs across losses (stored as the run's seed);
    `init_seed` draws the weights, `order_seed` the batch order, `data_seed` the split (None:
    the task's own `data_seed`). A source the study does not vary keeps the study seed."""

    seed: int
    init_seed: int
    order_seed: int
    data_seed: int | None


@dataclass(frozen=True)
class PairPlan:
    """The work for one (task, loss): `trials` search trials, then one confirm run per seed.

    `added_baseline` marks plain cross-entropy added because the study did not list it (it is
    searched like every other loss). `budget_note` says why this pair's budget differs from
    the study's `trials` (nothing to tune). With `epoch_budget` the search stops once that
    many training epochs were spent (at least `trials` trials run: each trains at most
    `max_epochs`). `repeat` numbers the search repeats (`search.repeats`); repeat 0 keeps the
    plain study names, repeat r > 0 adds `/repeat{r}`, so its sampler seed differs.
    """

    study: str
    task_entry: TaskEntry
    model: str
    loss_entry: LossEntry
    trials: int
    space: tuple[Param, ...]
    confirm_seeds: tuple[int, ...]
    added_baseline: bool = False
    budget_note: str | None = None
    max_epochs: int = 1
    epoch_budget: int | None = None
    confirm_plan: tuple[ConfirmSeed, ...] = ()
    repeat: int = 0

    @property
    def search_study(self) -> str:
        name = f"{self.study}/{self.task_entry.name}/{self.loss_entry.name}"
        return f"{name}/repeat{self.repeat}" if self.repeat else name

    @property
    def confirm_study(self) -> str:
        return f"{self.search_study}/confirm"

    @property
    def planned_runs(self) -> int:
        return self.trials + len(self.confirm_seeds)

    @property
    def grid(self) -> dict[str, list[Any]]:
        return {p.name: list(p.range.values or []) for p in self.space}

    @property
    def grid_size(self) -> int:
        size = 1
        for param in self.space:
            size *= param.range.size or 1
        return size

    def confirm_seed(self, seed: int) -> ConfirmSeed:
        """The init, order and data seeds of the confirm run with pairing seed `seed`."""
        for planned in self.confirm_plan:
            if planned.seed == seed:
                return planned
        return ConfirmSeed(seed=seed, init_seed=seed, order_seed=seed, data_seed=None)

    def split(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Sampled values -> (loss params incl. the fixed ones, training settings)."""
        targets = {p.name: p.target for p in self.space}
        loss_params = dict(self.loss_entry.params)
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

    @property
    def varied(self) -> tuple[str, ...]:
        """The sources of variance the confirm runs vary (`confirm.vary`)."""
        return tuple(self.config.confirm.vary)

    def describe(self) -> str:
        """A few lines for `--dry-run`: tasks x losses x trials, the budget, the confirm runs."""
        config = self.config
        search = config.search
        tasks = [t.name for t in config.tasks]
        losses = [pair.loss_entry.name for pair in self.pairs if pair.task_entry.name == tasks[0]]
        lines = [
            f"study {config.name!r}: {len(tasks)} task(s) x {len(losses)} loss(es); sampler "
            f"{search.sampler}, pruner {search.pruner}, objective "
            f"{' + '.join(search.objectives)}",
        ]
        for pair in self.pairs:
            space = ", ".join(p.describe() for p in pair.space) or "nothing to tune"
            if pair.epoch_budget is not None:
                budget = f"{pair.epoch_budget} epoch(s) (>= {pair.trials} trial(s))"
            else:
                budget = f"{pair.trials} trial(s)"
            added = " (added baseline)" if pair.added_baseline else ""
            if config.search.repeats > 1:
                added += f" [search repeat {pair.repeat + 1} of {config.search.repeats}]"
            lines.append(
                f"  {pair.task_entry.name} / {pair.model} / {pair.loss_entry.name}{added}: "
                f"{budget} over {space}; {len(pair.confirm_seeds)} confirm run(s)"
            )
            if pair.budget_note:
                lines.append(f"    note: {pair.budget_note}")
        lines.append(self.budget_line())
        seeds = tuple(sorted({s for pair in self.pairs for s in pair.confirm_seeds}))
        lines.append(
            f"total: {self.search_runs} search run(s) + {self.confirm_runs} confirm run(s) = "
            f"{self.planned_runs} run(s); confirm seeds {list(seeds)} varying "
            f"{', '.join(self.varied)}"
        )
        return "\n".join(lines)

    def budget_line(self) -> str:
        """One line: are the search budgets of the losses equal, and in what unit?"""
        if self.config.search.budget == "epochs":
            budgets = sorted({p.epoch_budget for p in self.pairs if p.epoch_budget is not None})
            unit = "training epochs"
        else:
            budgets = sorted({p.trials for p in self.pairs})
            unit = "trials (complete, pruned and failed count alike)"
        if len(budgets) == 1:
            return f"budget: equal, {budgets[0]} {unit} per (task, loss)"
        counts = ", ".join(
            f"{p.task_entry.name}/{p.loss_entry.name} {p.epoch_budget or p.trials}"
            for p in self.pairs
        )
        return f"budget: NOT equal ({counts}); see the notes above"


def build_plan(config: StudyConfig) -> StudyPlan:
    """The plan of a validated study: one `PairPlan` per (task, loss), baseline included."""
    from polybench.tasks import TASKS

    tune = tuple(
        Param(name, "training", spec, integer=TUNABLE_SETTINGS[name][0] is int)
        for name, spec in config.tune.items()
    )
    listed = {loss.name for loss in config.losses}
    entries = [(loss, False) for loss in config.losses]
    if config.confirm.seeds and config.confirm.baseline and BASELINE_LOSS not in listed:
        entries.append((LossEntry(loss=BASELINE_LOSS), True))
    pairs: list[PairPlan] = []
    for task in config.tasks:
        defaults = TASKS[task.task].defaults
        model = task.model or defaults.model
        for loss, added in entries:
            space = _loss_space(config, loss) + tune
            trials, note = _budget(config, space)
            max_epochs = _max_epochs(task, space, defaults.epochs)
            epoch_budget = trials * max_epochs if config.search.budget == "epochs" else None
            for repeat in range(config.search.repeats):
                confirm = confirm_seeds(config, repeat)
                pairs.append(
                    PairPlan(
                        study=config.name,
                        task_entry=task,
                        model=model,
                        loss_entry=loss,
                        trials=trials,
                        space=space,
                        confirm_seeds=tuple(planned.seed for planned in confirm),
                        added_baseline=added,
                        budget_note=note,
                        max_epochs=max_epochs,
                        epoch_budget=epoch_budget,
                        confirm_plan=confirm,
                        repeat=repeat,
                    )
                )
    return StudyPlan(config=config, pairs=tuple(pairs))


def confirm_seeds(config: StudyConfig, repeat: int = 0) -> tuple[ConfirmSeed, ...]:
    """The confirm seeds of a study's search repeat `repeat`: pairing seed
    `seed + 1000 + repeat * confirm.seeds + i`, and the init, order and data seeds it sets for
    the sources in `confirm.vary` (the same for every loss, so runs pair up across losses)."""
    vary = set(config.confirm.vary)
    planned = []
    for index in range(config.confirm.seeds):
        seed = config.seed + CONFIRM_SEED_OFFSET + repeat * config.confirm.seeds + index
        planned.append(
            ConfirmSeed(
                seed=seed,
                init_seed=seed if "init" in vary else config.seed,
                order_seed=seed if "order" in vary else config.seed,
                data_seed=seed if "split" in vary else None,
            )
        )
    return tuple(planned)


def _loss_space(config: StudyConfig, loss: LossEntry) -> tuple[Param, ...]:
    """The loss's own searched parameters: its `search:`, or for the baseline without one,
    its registered search range of `label_smoothing` (unless fixed in `params`)."""
    from polybench.losses import get_loss_class

    declared = {hp.name: hp for hp in get_loss_class(loss.loss).hyperparams}
    ranges = dict(loss.search)
    if loss.loss == BASELINE_LOSS and "search" not in loss.model_fields_set:
        for name in BASELINE_DEFAULT_SEARCH:
            hp = declared.get(name)
            if hp is None or not hp.tunable or name in loss.params:
                continue
            if config.search.sampler == "grid":
                continue  # a grid needs listed values; budget_problems says so
            ranges[name] = Range(low=hp.search_low, high=hp.search_high, log=hp.log)
    return tuple(
        Param(name, "loss", spec, integer=declared[name].kind == "int")
        for name, spec in ranges.items()
    )


def _budget(config: StudyConfig, space: tuple[Param, ...]) -> tuple[int, str | None]:
    """Search trials of one pair, and why they differ from the study's when they do: one
    when there is nothing to tune; the grid size (capped by `search.trials` when given) with the
    grid sampler; else `search.trials` (default 10)."""
    trials = config.search.trials or DEFAULT_TRIALS
    if config.search.sampler == "grid":
        size = 1
        for param in space:
            size *= param.range.size or 1
        return (min(size, config.search.trials) if config.search.trials else size), None
    if not space:
        return 1, (
            f"nothing to tune (no `search:` range and no shared `tune:` block), so 1 trial "
            f"instead of {trials}: repeating it would only repeat the same run. Add a `tune:` "
            "block (every loss then draws it) or a `search:` range to give it the full budget."
        )
    return trials, None


def _max_epochs(task: TaskEntry, space: tuple[Param, ...], default: int) -> int:
    """The most epochs one trial of this pair can train (a tuned `epochs` counts at its top)."""
    for param in space:
        if param.name == "epochs":
            return int(max(param.range.numbers() or [default]))
    return task.epochs or default


def budget_problems(config: StudyConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """What keeps the losses' budgets from being equal, as (key path, message) for the study
    file's checks: grids with different numbers of points per loss."""
    if config.search.sampler != "grid":
        return []
    plan = build_plan(config)
    sizes = {pair.loss_entry.name: pair.trials for pair in plan.pairs if pair.repeat == 0}
    if len(set(sizes.values())) <= 1:
        return []
    counts = ", ".join(f"{loss} {size}" for loss, size in sizes.items())
    hint = ""
    if BASELINE_LOSS in sizes and not any(
        loss.loss == BASELINE_LOSS and loss.search for loss in config.losses
    ):
        hint = (
            f" ({BASELINE_LOSS} has no grid of its own: give it `search: {{label_smoothing: "
            f"{{values: [...]}}}}` with {max(sizes.values())} values)"
        )
    return [
        (
            ("search", "sampler"),
            f"the grid gives the losses different budgets (grid points: {counts}); give every "
            f"loss the same number of points, or set search.trials to at most "
            f"{min(sizes.values())}{hint}.",
        )
    ]
