"""fit: metrics agree with sklearn / a float64 reference, runs are reproducible, callbacks prune,
NaN losses fail cleanly, and the result carries its curve, throughput and environment."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from polybench.tasks import load_task
from polybench.train import (
    METRIC_NAMES,
    EpochRecord,
    RunResult,
    balanced_accuracy,
    expected_calibration_error,
    fit,
    lr_factor,
    macro_f1,
)


@pytest.fixture(scope="module")
def digits():
    return load_task("digits", subsample=0.3)


labels = st.lists(st.integers(0, 4), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_classification_metrics_match_sklearn(data):
    target = data.draw(labels)
    pred = data.draw(st.lists(st.integers(0, 4), min_size=len(target), max_size=len(target)))
    t, p = torch.tensor(target), torch.tensor(pred)
    assert macro_f1(p, t, 5) == pytest.approx(f1_score(target, pred, average="macro"))
    with warnings.catch_warnings():  # sklearn warns when a class is only predicted
        warnings.simplefilter("ignore")
        expected = balanced_accuracy_score(target, pred)
    assert balanced_accuracy(p, t, 5) == pytest.approx(expected)
    assert (p == t).double().mean().item() == pytest.approx(accuracy_score(target, pred))


def _ece_reference(probabilities: np.ndarray, target: np.ndarray, bins: int = 15) -> float:
    """Guo et al. (2017), written out in float64 loops."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == target
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            gap = abs(correct[inside].mean() - confidence[inside].mean())
            total += inside.sum() / len(target) * gap
    return total


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.integers(2, 6), st.integers(0, 10_000))
def test_expected_calibration_error_matches_reference(n, classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=rng.uniform(0.1, 5), size=(n, classes))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = rng.integers(0, classes, size=n)
    ours = expected_calibration_error(torch.from_numpy(probabilities), torch.from_numpy(target))
    assert ours == pytest.approx(_ece_reference(probabilities, target), abs=1e-12)


def test_ece_of_perfectly_calibrated_bins_is_zero_and_of_overconfidence_is_the_gap():
    probabilities = torch.tensor([[0.9, 0.1]] * 10)
    target = torch.tensor([0] * 9 + [1])  # 90 % correct at 90 % confidence
    assert expected_calibration_error(probabilities, target) == pytest.approx(0.0, abs=1e-6)
    target = torch.tensor([0] * 5 + [1] * 5)  # 50 % correct at 90 % confidence
    assert expected_calibration_error(probabilities, target) == pytest.approx(0.4)


def test_schedules():
    assert [lr_factor("cosine", s, 10, 0) for s in (0, 5, 10)] == pytest.approx([1, 0.5, 0])
    assert lr_factor("linear", 5, 10, 0) == pytest.approx(0.5)
    assert [lr_factor("constant", s, 10, 2) for s in (0, 1, 5)] == [0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="Did you mean 'cosine'"):
        lr_factor("cosin", 0, 10, 0)


def test_fit_returns_the_contract_and_learns(digits):
    seen: list[EpochRecord] = []
    result = fit(digits, "small_cnn", "cross_entropy", epochs=3, device="cpu", on_epoch=seen.append)
    assert isinstance(result, RunResult)
    assert (result.state, result.failure_reason, result.epochs_done) == ("complete", None, 3)
    assert tuple(result.metrics) == METRIC_NAMES
    assert result.curve == seen and [r.epoch for r in seen] == [1, 2, 3]
    assert seen[-1].train_loss < seen[0].train_loss
    assert result.metrics["test_accuracy"] > 0.5  # ten classes: chance is 0.1
    assert result.metrics["val_accuracy"] == seen[-1].val_accuracy
    assert result.metrics["val_loss"] == seen[-1].val_loss
    # the cosine schedule starts at the task's default learning rate and decays
    assert seen[0].lr == digits.defaults.lr and seen[2].lr < seen[1].lr < seen[0].lr
    assert result.train_throughput > 0 and result.eval_throughput > 0 and result.wall_time > 0
    env = result.environment
    assert env.device == "cpu" and env.torch_version == torch.__version__ and env.threads >= 1
    assert env.git_commit is None or len(env.git_commit) == 40
    json.dumps(result.to_dict(), allow_nan=False)  # the CLI prints this


def test_same_seed_same_metrics_other_seed_other_metrics(digits):
    state = torch.random.get_rng_state()
    first = fit(digits, "small_cnn", "cross_entropy", epochs=2, seed=7, device="cpu")
    again = fit(digits, "small_cnn", "cross_entropy", epochs=2, seed=7, device="cpu")
    other = fit(digits, "small_cnn", "cross_entropy", epochs=2, seed=8, device="cpu")
    assert first.metrics == again.metrics
    assert [r.train_loss for r in first.curve] == [r.train_loss for r in again.curve]
    assert [r.train_loss for r in first.curve] != [r.train_loss for r in other.curve]
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched


def test_on_epoch_returning_true_prunes(digits):
    result = fit(
        digits,
        "small_cnn",
        "cross_entropy",
        epochs=5,
        device="cpu",
        on_epoch=lambda record: record.epoch == 2,
    )
    assert (result.state, result.epochs_done) == ("pruned", 2)
    assert not math.isnan(result.metrics["test_accuracy"])


def test_a_diverging_loss_fails_at_once_with_a_reason(digits):
    result = fit(
        digits, "small_cnn", "cross_entropy", epochs=5, lr=1e30, optimizer="sgd", device="cpu"
    )
    assert result.state == "failed"
    assert "epoch 1" in result.failure_reason and "step" in result.failure_reason
    assert result.epochs_done == 0 and result.curve == []
    assert all(math.isnan(v) for v in result.metrics.values())
    assert result.to_dict()["metrics"]["test_accuracy"] is None


def test_text_task_trains(tmp_path):
    task = load_task("review_sentiment_zh", subsample=0.05, max_length=48)
    result = fit(task, "fasttext", "cross_entropy", epochs=2, batch_size=64, device="cpu")
    assert result.state == "complete" and result.metrics["test_accuracy"] > 0.5


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"optimizer": "adamm"}, "Did you mean 'adam'"),
        ({"schedule": "cosin"}, "Did you mean 'cosine'"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"lr": -1.0}, "lr must be a positive number"),
        ({"device": "tpu"}, "device 'tpu'"),
        ({"model_params": {"widht": 8}}, "Did you mean 'width'"),
    ],
)
def test_bad_settings_are_explained(digits, kwargs, needle):
    with pytest.raises(ValueError) as info:
        fit(digits, "small_cnn", "cross_entropy", **kwargs)
    assert needle in str(info.value)


def test_bad_loss_is_explained_before_training(digits):
    with pytest.raises(ValueError, match="poly1_cross_entropy"):
        fit(digits, "small_cnn", "poly1_cross_entropi")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "model", "target"),
    [("digits", "small_cnn", 0.95), ("mnist5k", "small_cnn", 0.95)],
)
def test_default_settings_reach_the_accuracy_targets(task, model, target):
    result = fit(task, model, "cross_entropy", device="cpu")
    assert result.metrics["test_accuracy"] >= target


def test_cli_train_prints_one_json_object_and_lists():
    from typer.testing import CliRunner

    from polybench.cli import app

    runner = CliRunner()
    args = [
        "train",
        "--task",
        "digits",
        "--loss",
        "poly1_cross_entropy",
        "--param",
        "epsilon=2.0",
        "--epochs",
        "1",
        "--subsample",
        "0.2",
        "--device",
        "cpu",
        "--json",
    ]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["state"] == "complete" and result["settings"]["loss_params"] == {"epsilon": 2.0}
    assert set(result["metrics"]) == set(METRIC_NAMES)
    listed = json.loads(runner.invoke(app, ["tasks", "--json"]).stdout)
    assert "review_sentiment_zh" in {row["name"] for row in listed}
    models = json.loads(runner.invoke(app, ["models", "--json"]).stdout)
    assert {row["name"] for row in models} >= {"small_cnn", "resnet18", "textcnn", "bigru"}
    bad = runner.invoke(app, ["train", "--task", "digits", "--task-option", "subsampel=1"])
    assert bad.exit_code != 0 and "Did you mean 'subsample'" in bad.output


def test_cli_train_refuses_a_bad_loss_parameter_before_training():
    from typer.testing import CliRunner

    from polybench.cli import app

    runner = CliRunner()
    args = ["train", "--task", "digits", "--loss", "focal", "--json"]
    typo = runner.invoke(app, [*args, "--param", "gama=1"])
    assert typo.exit_code == 2
    words = " ".join(typo.output.replace("│", " ").split())  # the error box wraps lines
    assert "has no parameter 'gama'" in words and "Did you mean 'gamma'?" in words
    assert "epoch" not in typo.output  # refused at the boundary: no progress bar, no training
    negative = runner.invoke(app, [*args, "--param", "gamma=-1"])
    assert negative.exit_code == 2
    assert "'gamma'" in negative.output and ">= 0" in negative.output


def test_evaluate_test_false_never_scores_the_test_split(digits):
    blind = fit(digits, "small_cnn", "cross_entropy", epochs=1, device="cpu", evaluate_test=False)
    seen = fit(digits, "small_cnn", "cross_entropy", epochs=1, device="cpu")
    test_names = [name for name in METRIC_NAMES if name.startswith("test_")]
    assert all(math.isnan(blind.metrics[name]) for name in test_names)
    assert not any(math.isnan(seen.metrics[name]) for name in test_names)
    # Everything else is the same run: same seed, same validation scores.
    assert blind.metrics["val_accuracy"] == seen.metrics["val_accuracy"]
    assert blind.metrics["val_macro_f1"] == seen.metrics["val_macro_f1"]


def test_every_epoch_records_every_validation_metric(digits):
    result = fit(digits, "small_cnn", "cross_entropy", epochs=2, device="cpu")
    last = result.curve[-1]
    # The last epoch's record is what the final validation metrics say (a pruner watching
    # macro-F1 or ECE sees the same numbers the study is judged by).
    for name in ("val_accuracy", "val_macro_f1", "val_balanced_accuracy", "val_ece"):
        assert getattr(last, name) == pytest.approx(result.metrics[name], abs=1e-12)
    assert all(0 <= record.val_macro_f1 <= 1 for record in result.curve)


def test_init_and_order_seeds_vary_apart(digits):
    base = fit(digits, "small_cnn", "cross_entropy", epochs=1, seed=3, device="cpu")
    same = fit(digits, "small_cnn", "cross_entropy", epochs=1, seed=3, order_seed=3, device="cpu")
    order = fit(digits, "small_cnn", "cross_entropy", epochs=1, seed=3, order_seed=4, device="cpu")
    init = fit(digits, "small_cnn", "cross_entropy", epochs=1, seed=4, order_seed=3, device="cpu")
    assert base.metrics == same.metrics  # order_seed defaults to seed
    losses = {r.curve[0].train_loss for r in (base, order, init)}
    assert len(losses) == 3  # each source changes the run on its own
    assert order.settings["order_seed"] == 4 and order.settings["seed"] == 3


def test_cli_train_honours_and_validates_task_options():
    from typer.testing import CliRunner

    from polybench.cli import app
    from polybench.tasks import load_task

    runner = CliRunner()
    args = ["train", "--task", "digits", "--epochs", "1", "--device", "cpu", "--threads", "1"]
    done = runner.invoke(app, [*args, "--task-option", "subsample=0.2", "--json"])
    assert done.exit_code == 0, done.output
    cli_metrics = json.loads(done.stdout.strip().splitlines()[-1])["metrics"]
    # The same run in Python on the 20% subsample (same seeds, CPU: the same numbers).
    task = load_task("digits", subsample=0.2, data_seed=0)
    expected = fit(task, "small_cnn", "cross_entropy", epochs=1, device="cpu", threads=1)
    assert cli_metrics == pytest.approx(expected.metrics, nan_ok=True)
    full = fit(load_task("digits", data_seed=0), "small_cnn", "cross_entropy", epochs=1,
               device="cpu", threads=1)  # fmt: skip
    assert cli_metrics != pytest.approx(full.metrics, nan_ok=True)

    bad = runner.invoke(app, [*args, "--task-option", "subsample=abc"])
    assert bad.exit_code == 2 and "subsample" in bad.output and "float" in bad.output
    twice = runner.invoke(app, [*args, "--subsample", "0.3", "--task-option", "subsample=0.5"])
    assert twice.exit_code == 2 and "given twice" in twice.output
