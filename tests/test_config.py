"""Study files: every kind of bad input names the file, line, key path and what is allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from polybench.config import ConfigError, load_study, parse_study

GOOD = """\
name: demo
seed: 3
tasks:
  - task: digits
    model: small_cnn
    subsample: 0.5
    epochs: 2
    optimizer: {name: adamw, lr: 3.0e-3}
losses:
  - loss: cross_entropy
  - loss: poly1_cross_entropy
    search: {epsilon: {low: -1.0, high: 8.0}}
  - loss: focal
    search: {gamma: {low: 0.0, high: 4.0}}
tune: {lr: {low: 1.0e-4, high: 1.0e-2, log: true}}
search: {trials: 5, sampler: tpe, pruner: median, metric: val_accuracy}
confirm: {seeds: 2}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_study(text, source="study.yaml")
    return str(caught.value).splitlines()


def test_a_good_file_loads_with_its_values_and_text(tmp_path: Path):
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD)
    config = load_study(path)
    assert config.name == "demo" and config.seed == 3
    assert config.tasks[0].options == {"subsample": 0.5}
    assert config.tasks[0].optimizer.lr == 3e-3
    assert config.losses[2].search["gamma"].high == 4.0
    assert config.tune["lr"].log is True
    assert config.search.trials == 5 and config.confirm.seeds == 2
    assert config.text == GOOD and config.source == str(path)


def test_missing_file():
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such file"):
        load_study("nope.yaml")


def test_yaml_syntax_error_gives_the_line():
    (line,) = problems("name: x\ntasks: [\n  - a: 1\n")
    assert line.startswith("study.yaml:3: not valid YAML")


def test_duplicate_keys_are_refused_with_their_line():
    (line,) = problems(GOOD + "seed: 4\n")
    assert line == "study.yaml:18: seed: appears twice in the same mapping."


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # unknown task / model / loss / parameter: the closest valid names are suggested
        ("task: digits", "task: digitz", "study.yaml:4: tasks[0].task: unknown task 'digitz'"),
        ("model: small_cnn", "model: small_cnm", "Did you mean 'small_cnn'?"),
        ("loss: focal", "loss: focall", "losses[2].loss: unknown loss 'focall'"),
        (
            "{gamma: {low",
            "{gama: {low",
            "study.yaml:14: losses[2].search.gama: focal has no "
            "hyperparameter 'gama'; tunable: gamma. Did you mean 'gamma'?",
        ),
        (
            "{gamma: {low",
            "{reduction: {low",
            "study.yaml:14: losses[2].search.reduction: focal is not tunable 'reduction'; "
            "tunable: gamma.",
        ),
        ("subsample: 0.5", "subsampel: 0.5", "tasks[0].subsampel: task 'digits' has no option"),
        # label noise: a mapping {rate, kind}, checked key by key
        (
            "subsample: 0.5",
            "label_noise: {rate: 0.4, kind: symetric}",
            "study.yaml:6: tasks[0].label_noise: task 'digits' option 'label_noise' kind got "
            "'symetric'; allowed: symmetric, asymmetric. Did you mean 'symmetric', 'asymmetric'?",
        ),
        (
            "subsample: 0.5",
            "label_noise: {rate: 1.4}",
            "tasks[0].label_noise: task 'digits' option 'label_noise' rate got 1.4; "
            "expected a number in [0, 1).",
        ),
        (
            "subsample: 0.5",
            "label_noise: {rte: 0.4}",
            "option 'label_noise' has no key 'rte'; expected {rate: float in [0, 1), "
            "kind: symmetric | asymmetric}. Did you mean 'rate'?",
        ),
        (
            "subsample: 0.5",
            "label_noise: {rate: 0.6, kind: asymmetric}",
            "rate got 0.6 with kind asymmetric; expected a rate below 0.5",
        ),
        ("seed: 3", "sead: 3", "study.yaml:2: sead: unknown key 'sead'; allowed: name, seed"),
        (
            "sampler: tpe",
            "sampler: tpee",
            "search.sampler: unknown sampler 'tpee'; allowed: "
            "tpe, random, grid, cmaes, nsga2. Did you mean 'tpe'?",
        ),
        ("pruner: median", "pruner: medain", "Did you mean 'median'?"),
        ("metric: val_accuracy", "metric: val_acc", "search.metric: unknown metric 'val_acc'"),
        ("name: adamw", "name: adamx", "tasks[0].optimizer.name: unknown optimizer 'adamx'"),
        # a search range outside the loss's valid range is refused with that range
        (
            "gamma: {low: 0.0",
            "gamma: {low: -0.5",
            "study.yaml:14: losses[2].search.gamma.low: "
            "-0.5 is outside the valid range of focal.gamma: [0, inf)",
        ),
        (
            "epsilon: {low: -1.0",
            "epsilon: {low: -2.0",
            "losses[1].search.epsilon.low: -2 is "
            "outside the valid range of poly1_cross_entropy.epsilon",
        ),
        (
            "{low: 1.0e-4, high: 1.0e-2, log: true}",
            "{low: 0.0, high: 1.0e-2, log: true}",
            "tune.lr.low: 0 must be > 0 when log: true.",
        ),
        (
            "tune: {lr:",
            "tune: {momentum: {low: 0, high: 1}, lr:",
            "tune.momentum: cannot tune "
            "'momentum'; the shared tune space allows: lr, weight_decay, batch_size, epochs.",
        ),
        # wrong types and values, with the key path and line
        (
            "trials: 5",
            "trials: many",
            "study.yaml:16: search.trials: Input should be a valid integer",
        ),
        (
            "seeds: 2",
            "seeds: -1",
            "study.yaml:17: confirm.seeds: Input should be greater than or equal to 0",
        ),
        ("name: demo", "name: a/b", "study.yaml:1: name: 'a/b' must start with a letter"),
        ("model: small_cnn", "model: textcnn", "model 'textcnn' needs a text task"),
        (
            "metric: val_accuracy",
            "metric: [val_accuracy, train_throughput]",
            "search.pruner: 'median' given, but a multi-objective study cannot prune",
        ),
        (
            "sampler: tpe",
            "sampler: grid",
            "losses[1].search.epsilon: the grid sampler needs `values: [...]`",
        ),
    ],
)
def test_bad_values_are_reported_where_they_are(old: str, new: str, expected: str):
    assert old in GOOD
    lines = problems(GOOD.replace(old, new, 1))
    assert any(expected in line for line in lines), lines


def test_every_problem_is_reported_at_once():
    text = GOOD.replace("task: digits", "task: digitz").replace("loss: focal", "loss: focall")
    lines = problems(text)
    assert len(lines) == 2
    assert lines[0].startswith("study.yaml:4: tasks[0].task")
    assert lines[1].startswith("study.yaml:13: losses[2].loss")


def test_required_keys_and_duplicates():
    lines = problems("name: x\nlosses:\n  - loss: focal\n")
    assert lines == ["study.yaml:1: tasks: is required."]
    twice = GOOD.replace("tune:", "  - loss: focal\ntune:")
    assert any(
        "losses[3].loss: 'focal' is already listed at losses[2]" in line for line in problems(twice)
    )


def test_grid_values_are_checked_one_by_one():
    text = GOOD.replace("{epsilon: {low: -1.0, high: 8.0}}", "{epsilon: {values: [0, -3, 2]}}")
    lines = problems(
        text.replace("sampler: tpe", "sampler: grid")
        .replace("{gamma: {low: 0.0, high: 4.0}}", "{gamma: {values: [0, 2]}}")
        .replace("{lr: {low: 1.0e-4, high: 1.0e-2, log: true}}", "{lr: {values: [0.001]}}")
    )
    assert lines == [
        "study.yaml:12: losses[1].search.epsilon.values[1]: -3 is outside the valid range of "
        "poly1_cross_entropy.epsilon: [-1, inf)."
    ]


def test_a_file_that_is_not_a_mapping():
    assert problems("- a\n- b\n") == ["study.yaml:1: expected a mapping of keys, got list."]
    assert problems("") == ["study.yaml:1: expected a mapping of keys, got an empty file."]


def test_plan_budgets_follow_the_file():
    from polybench.runner import build_plan

    plan = build_plan(parse_study(GOOD))
    # cross_entropy has no search of its own but gets the shared lr space, so 5 trials too.
    assert [(p.loss_entry.loss, p.trials) for p in plan.pairs] == [
        ("cross_entropy", 5),
        ("poly1_cross_entropy", 5),
        ("focal", 5),
    ]
    assert plan.pairs[0].confirm_seeds == (1003, 1004)
    assert plan.planned_runs == 3 * 5 + 3 * 2
    grid = textwrap.dedent("""\
        name: sweep
        tasks: [{task: digits}]
        losses:
          - loss: cross_entropy
            search: {label_smoothing: {values: [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]}}
          - loss: poly1_cross_entropy
            search: {epsilon: {values: [-1, 0, 1, 2, 4, 8]}}
        search: {sampler: grid, pruner: none}
        confirm: {seeds: 0}
        """)
    plan = build_plan(parse_study(grid))
    assert [(p.loss_entry.loss, p.trials, p.model) for p in plan.pairs] == [
        ("cross_entropy", 6, "small_cnn"),
        ("poly1_cross_entropy", 6, "small_cnn"),
    ]
    # No cross_entropy in the study: it is added as the baseline, searched like the others
    # (its registered label_smoothing range plus the shared lr block), with the same budget.
    baseline = GOOD.replace("  - loss: cross_entropy\n", "")
    pairs = build_plan(parse_study(baseline)).pairs
    added = pairs[-1]
    assert (added.loss_entry.loss, added.trials, added.added_baseline) == ("cross_entropy", 5, True)
    assert [p.name for p in added.space] == ["label_smoothing", "lr"]
    assert {p.trials for p in pairs} == {5}


def test_grid_with_unequal_points_per_loss_is_refused_with_the_counts():
    grid = textwrap.dedent("""\
        name: sweep
        tasks: [{task: digits}]
        losses:
          - loss: cross_entropy
          - loss: poly1_cross_entropy
            search: {epsilon: {values: [-1, 0, 1, 2, 4, 8]}}
        search: {sampler: grid, pruner: none}
        """)
    assert problems(grid) == [
        "study.yaml:7: search.sampler: the grid gives the losses different budgets (grid "
        "points: cross_entropy 1, poly1_cross_entropy 6); give every loss the same number of "
        "points, or set search.trials to at most 1 (cross_entropy has no grid of its own: give "
        "it `search: {label_smoothing: {values: [...]}}` with 6 values)."
    ]
    # Capping the grid with a small enough `trials` makes the budgets equal again.
    from polybench.runner import build_plan

    capped = build_plan(parse_study(grid.replace("pruner: none", "pruner: none, trials: 1")))
    assert {p.trials for p in capped.pairs} == {1}


def test_a_loss_with_nothing_to_tune_gets_one_trial_and_the_plan_says_why():
    from polybench.runner import build_plan

    text = textwrap.dedent("""\
        name: bare
        tasks: [{task: digits}]
        losses:
          - loss: cross_entropy
            search: {}
          - loss: poly1_cross_entropy
            search: {epsilon: {low: -1, high: 4}}
        search: {trials: 4}
        """)
    plan = build_plan(parse_study(text))
    assert [(p.loss_entry.loss, p.trials) for p in plan.pairs] == [
        ("cross_entropy", 1),
        ("poly1_cross_entropy", 4),
    ]
    described = plan.describe()
    assert "cross_entropy: 1 trial(s) over nothing to tune" in described
    assert "note: nothing to tune (no `search:` range and no shared `tune:` block)" in described
    assert "budget: NOT equal (digits/cross_entropy 1, digits/poly1_cross_entropy 4)" in described
    # With a shared tune block the same loss draws it `trials` times: equal budgets again.
    tuned = build_plan(parse_study(text + "tune: {lr: {low: 1.0e-3, high: 1.0e-2, log: true}}\n"))
    assert [(p.loss_entry.loss, p.trials) for p in tuned.pairs] == [
        ("cross_entropy", 4),
        ("poly1_cross_entropy", 4),
    ]
    assert "budget: equal, 4 trials" in tuned.describe()


def test_report_margin_is_a_positive_number_in_the_metrics_units():
    config = parse_study(GOOD + "report: {margin: 0.005}\n")
    assert config.report.margin == 0.005
    assert parse_study(GOOD).report.margin is None
    (line,) = problems(GOOD + "report: {margin: -0.01}\n")
    assert line.startswith("study.yaml:18: report.margin: Input should be greater than 0")
    (line,) = problems(GOOD + "report: {margn: 0.01}\n")
    assert line == (
        "study.yaml:18: report.margn: unknown key 'margn'; allowed: margin. Did you mean 'margin'?"
    )
