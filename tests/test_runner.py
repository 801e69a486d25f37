"""The study runner against real databases: budgets, resume, retries, interrupts, workers.

Studies are scaled down (digits, a few hundred images, 1-3 epochs, 1 thread) so that each
test trains for seconds; the expected run counts are computed here from the study file's
numbers, not taken from the runner's own plan.
"""

from __future__ import annotations

import signal
import sys
import textwrap
from pathlib import Path

import optuna
import pytest
from conftest import start_cli_run, wait_for_mid_training
from optuna.trial import TrialState, create_trial

from polybench import stats
from polybench.db import open_store
from polybench.runner import build_plan, run_study, study_status
from polybench.runner._trials import (
    CONFIRM_PARAMS,
    CONFIRM_SEED,
    EPOCHS,
    LOST,
    ORIGIN,
    SKIPPED,
    over_budget,
    requeue,
    slot_counts,
)


def study_file(
    tmp_path: Path,
    *,
    name: str = "tiny",
    trials: int = 2,
    seeds: int = 2,
    epochs: int = 1,
    subsample: float = 0.3,
    extra: str = "",
    tune: str = "",
    sampler: str = "random",
    pruner: str = "none",
) -> Path:
    """A small study: cross_entropy (searching its default label_smoothing range) and
    poly1_cross_entropy, each with `trials` trials."""
    text = f"""\
        name: {name}
        seed: 0
        threads: 1
        heartbeat: {{interval_seconds: 1, grace_seconds: 2}}
        tasks:
          - task: digits
            model: small_cnn
            subsample: {subsample}
            epochs: {epochs}
        losses:
          - loss: cross_entropy
          - loss: poly1_cross_entropy
            search: {{epsilon: {{low: -1.0, high: 4.0}}}}
        search: {{trials: {trials}, sampler: {sampler}, pruner: {pruner}}}
        confirm: {{seeds: {seeds}}}
        """
    text = textwrap.dedent(text) + textwrap.dedent(tune) + textwrap.dedent(extra)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def expected_runs(trials: int, seeds: int, losses: int = 2) -> int:
    """Every loss, cross_entropy included: `trials` search trials and `seeds` confirm runs."""
    return losses * (trials + seeds)


def optuna_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def test_run_stores_every_planned_run_and_rerun_adds_none(tmp_path: Path, sqlite_url: str):
    path = study_file(tmp_path, trials=2, seeds=2)
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert summary.planned_runs == expected_runs(2, 2) == 8
    with open_store(sqlite_url) as store:
        runs = store.runs(study="tiny")
    assert len(runs) == 8
    assert set(runs["state"]) <= {"complete", "pruned"}
    assert (runs["phase"] == "search").sum() == 4 and (runs["phase"] == "confirm").sum() == 4
    # Confirm runs: seeds study seed + 1000 + i, scored on the test split.
    confirm = runs[runs["phase"] == "confirm"]
    assert sorted(confirm["seed"]) == [1000, 1000, 1001, 1001]
    assert confirm["test_accuracy"].between(0, 1).all()
    # Each confirm run trains the best search parameters of its loss.
    poly = runs[(runs["loss"] == "poly1_cross_entropy") & (runs["phase"] == "search")]
    best = poly.loc[poly["val_accuracy"].idxmax(), "param_epsilon"]
    confirmed = confirm[confirm["loss"] == "poly1_cross_entropy"]["param_epsilon"]
    assert (confirmed == best).all()
    # The runner stored its pick: one search run per loss, the confirmed params' own.
    marked = runs[runs["best_search"]]
    assert sorted(marked["loss"]) == ["cross_entropy", "poly1_cross_entropy"]
    assert marked.set_index("loss").loc["poly1_cross_entropy", "param_epsilon"] == best
    for loss, params in marked[["loss", "params"]].itertuples(index=False):
        assert set(confirm.loc[confirm["loss"] == loss, "params"]) == {params}
    # Search trials ran with the study seed; Optuna holds one trial per run.
    assert (runs[runs["phase"] == "search"]["seed"] == 0).all()
    assert len(optuna_trials(sqlite_url, "tiny/digits/poly1_cross_entropy")) == 2
    assert len(optuna_trials(sqlite_url, "tiny/digits/poly1_cross_entropy/confirm")) == 2
    assert summary.complete and summary.table is not None and len(summary.table) == 2

    again = run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        after = store.runs(study="tiny")
    assert list(after["run_id"]) == list(runs["run_id"])
    assert list(after["finished_at"]) == list(runs["finished_at"])
    assert again.stored_runs == 8 and again.complete

    # A larger budget in the file tops the search up; nothing finished is run again.
    bigger = study_file(tmp_path, trials=3, seeds=2)
    run_study(bigger, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        topped = store.runs(study="tiny")
    search = topped[(topped["phase"] == "search") & (topped["loss"] == "poly1_cross_entropy")]
    assert len(search) == 3
    assert set(runs["run_id"]) <= set(topped["run_id"])
    kept = topped.set_index("run_id").loc[list(runs["run_id"]), "finished_at"]
    assert list(kept) == list(runs["finished_at"])
    # The runner re-picked after the top-up: the stored pick is the best of all three trials.
    best_now = stats.best_search_runs(topped, "val_accuracy", stored=False)
    assert sorted(topped.loc[topped["best_search"], "run_id"]) == sorted(best_now["run_id"])

    status = study_status(sqlite_url, "tiny")
    assert list(status["search_done"]) == [3, 3] and list(status["search_planned"]) == [3, 3]
    listing = study_status(sqlite_url)
    assert list(listing["study"]) == ["tiny"] and listing.loc[0, "runs"] == len(topped)


def test_search_runs_never_see_test_data(tmp_path: Path, sqlite_url: str):
    """After a real study, only confirm runs have test scores (in the database itself)."""
    path = study_file(tmp_path, name="blind", trials=2, seeds=1)
    run_study(path, storage=sqlite_url, progress=False)
    test_columns = ["test_accuracy", "test_macro_f1", "test_balanced_accuracy", "test_ece"]
    with open_store(sqlite_url) as store:
        runs = store.runs(study="blind")
    search, confirm = runs[runs["phase"] == "search"], runs[runs["phase"] == "confirm"]
    assert len(search) == 4 and search["val_accuracy"].notna().all()
    assert search[test_columns].isna().all().all()
    assert len(confirm) == 2 and confirm[test_columns].notna().all().all()
    # Search runs record their seeds: init and order from the study seed, the task's split.
    assert (search[["init_seed", "order_seed", "data_seed"]] == 0).all().all()


def test_pruner_watches_the_objective_macro_f1(tmp_path: Path, sqlite_url: str):
    """With objective val_macro_f1 the pruner is handed macro-F1 (not accuracy) each epoch."""
    path = study_file(tmp_path, name="f1", trials=3, seeds=0, epochs=2, pruner="median")
    path.write_text(path.read_text().replace("pruner: median}", "pruner: median, "
                                             "metric: val_macro_f1}"))  # fmt: skip
    run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        runs = store.runs(study="f1")
        epochs = store.epochs(study="f1")
    assert epochs["val_macro_f1"].notna().all() and epochs["val_ece"].notna().all()
    by_run = epochs.set_index(["run_id", "epoch"])
    checked = 0
    for loss in ("cross_entropy", "poly1_cross_entropy"):
        for trial in optuna_trials(sqlite_url, f"f1/digits/{loss}"):
            run_id = trial.user_attrs["run_id"]
            assert trial.intermediate_values  # the pruner was given a value every epoch
            for epoch, value in trial.intermediate_values.items():
                assert value == by_run.loc[(run_id, epoch), "val_macro_f1"]
                checked += 1
    assert checked >= 6
    # macro-F1 and accuracy differ on these runs, so the test tells them apart.
    assert (epochs["val_macro_f1"] != epochs["val_accuracy"]).any()
    assert set(runs["phase"]) == {"search"}


def test_vary_split_gives_every_loss_the_same_data_seed_per_confirm_seed(
    tmp_path: Path, sqlite_url: str
):
    path = study_file(
        tmp_path, name="split", trials=1, seeds=2, extra="confirm: {seeds: 2, vary: [split]}\n"
    )
    path.write_text(path.read_text().replace("confirm: {seeds: 2}\n", "", 1))
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert "varying split" in summary.plan.describe()
    with open_store(sqlite_url) as store:
        runs = store.runs(study="split", phase="confirm")
    assert len(runs) == 4 and (runs["state"] == "complete").all()
    seeds = runs.groupby("seed")["data_seed"].agg(["nunique", "first"])
    assert (seeds["nunique"] == 1).all()  # the same split for every loss at a seed
    assert list(seeds["first"]) == [1000, 1001]  # a different split per seed
    # Only the split varies: weights and batch order keep the study seed.
    assert (runs["init_seed"] == 0).all() and (runs["order_seed"] == 0).all()


def test_epoch_budget_spends_the_same_epochs_with_more_short_trials(
    tmp_path: Path, sqlite_url: str
):
    """budget: epochs gives each loss trials x max epochs (2 x 2 = 4): trials that train one
    epoch leave room for more trials, and no loss spends more than its budget plus one trial."""
    path = study_file(
        tmp_path, name="epochs", trials=2, seeds=0, tune="tune: {epochs: {values: [1, 2]}}\n"
    )
    path.write_text(path.read_text().replace("pruner: none}", "pruner: none, budget: epochs}"))
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert {pair.epoch_budget for pair in summary.plan.pairs} == {4}
    assert "budget: equal, 4 training epochs" in summary.plan.describe()
    with open_store(sqlite_url) as store:
        runs = store.runs(study="epochs")
    for loss, group in runs.groupby("loss"):
        spent = int(group["epochs_done"].sum())
        assert 4 <= spent <= 5, (loss, spent)  # the last trial may start at 3 epochs spent
        assert len(group) >= 2 and len(group) == spent - (group["epochs_done"] == 2).sum()
        trials = optuna_trials(sqlite_url, f"epochs/digits/{loss}")
        assert sorted(t.user_attrs[EPOCHS] for t in trials) == sorted(group["epochs_done"])


def test_search_repeats_rerun_the_search_and_confirm_each_result(tmp_path: Path, sqlite_url: str):
    from polybench import report

    path = study_file(tmp_path, name="rep", trials=1, seeds=2)
    path.write_text(path.read_text().replace("pruner: none}", "pruner: none, repeats: 2}"))
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert summary.planned_runs == 2 * 2 * (1 + 2) and summary.complete
    with open_store(sqlite_url) as store:
        runs = store.runs(study="rep")
    assert len(runs) == 12
    # Each repeat is an Optuna study of its own (its own sampler seed) ...
    names = set(runs["optuna_study"])
    assert "rep/digits/poly1_cross_entropy/repeat1" in names
    assert "rep/digits/poly1_cross_entropy/repeat1/confirm" in names
    # ... confirmed on seeds of its own, the same for every loss, so runs still pair up.
    confirm = runs[runs["phase"] == "confirm"]
    seeds = confirm.groupby("loss")["seed"].apply(sorted)
    assert all(s == [1000, 1001, 1002, 1003] for s in seeds)
    spent = report.budget(sqlite_url, "rep")
    assert spent.search_repeats == 2 and "the search was repeated 2 times" in spent.variance_line()
    spread = spent.search_spread.set_index("loss")
    assert list(spread["repeats"]) == [2, 2] and list(spread["n_runs"]) == [4, 4]
    status = study_status(sqlite_url, "rep")
    assert len(status) == 4 and (status["confirm_done"] == 2).all()


def test_diverging_trial_is_recorded_failed_and_the_study_goes_on(tmp_path: Path, sqlite_url: str):
    # lr 1e30 makes the loss NaN at once; the grid runs it next to a sane lr for every loss.
    path = study_file(
        tmp_path,
        name="diverge",
        sampler="grid",
        trials=2,
        seeds=1,
        tune="tune: {lr: {values: [3.0e-3, 1.0e+30]}}\n",
    )
    path.write_text(path.read_text().replace("{low: -1.0, high: 4.0}", "{values: [1.0]}"))
    run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        runs = store.runs(study="diverge")
    search = runs[runs["phase"] == "search"]
    failed = search[search["state"] == "failed"]
    assert len(search) == 4 and len(failed) == 2
    assert (failed["param_lr"] == 1e30).all()
    assert failed["failure_reason"].str.contains("nan").all()
    # The study went on: every loss confirmed its best (finite) setting.
    confirm = runs[runs["phase"] == "confirm"]
    assert len(confirm) == 2 and (confirm["state"] == "complete").all()
    assert (confirm["param_lr"] == 3e-3).all()
    trials = optuna_trials(sqlite_url, "diverge/digits/poly1_cross_entropy")
    assert sorted(t.state.name for t in trials) == ["COMPLETE", "FAIL"]


def test_duplicate_confirm_seeds_from_racing_workers_run_once(tmp_path: Path, sqlite_url: str):
    path = study_file(tmp_path, name="race", trials=1, seeds=1)
    run_study(path, storage=sqlite_url, progress=False)
    name = "race/digits/poly1_cross_entropy/confirm"
    confirm = optuna.load_study(study_name=name, storage=sqlite_url)
    first = confirm.get_trials()[0]
    # Two workers that both saw seed 1001 missing enqueue it at the same moment:
    for _ in range(2):
        confirm.enqueue_trial(
            first.params,
            user_attrs={CONFIRM_SEED: 1001, CONFIRM_PARAMS: first.user_attrs[CONFIRM_PARAMS]},
        )
    run_study(study_file(tmp_path, name="race", trials=1, seeds=2), sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        runs = store.runs(study="race", loss="poly1_cross_entropy", phase="confirm")
    assert sorted(runs["seed"]) == [1000, 1001]
    trials = confirm.get_trials()
    skipped = [t for t in trials if SKIPPED in t.user_attrs]
    assert len(trials) == 3 and len(skipped) == 1 and skipped[0].state == TrialState.FAIL


def test_slot_counting_on_real_trials(tmp_path: Path, sqlite_url: str):
    study = optuna.create_study(study_name="slots", storage=sqlite_url)
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=0.5))
    study.add_trial(create_trial(state=TrialState.FAIL))  # its worker died ...
    study.add_trial(create_trial(state=TrialState.WAITING, user_attrs={ORIGIN: 1}))  # ... retry
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={SKIPPED: "budget full"}))
    trials = study.get_trials(deepcopy=False)
    counts = slot_counts(trials)
    assert (counts.used, counts.finished, counts.waiting, counts.complete) == (2, 1, 1, 1)
    # A fresh trial arriving now finds two slots opened: within a budget of 3, not of 2.
    newest = trials[-1].number + 1
    assert not over_budget(trials, newest, 3)
    assert over_budget(trials, newest, 2)


def test_a_retried_grid_trial_evaluates_the_same_point_and_the_grid_stays_whole(sqlite_url: str):
    grid = [0.0, 1.0, 2.0, 3.0]
    sampler = optuna.samplers.GridSampler({"x": grid}, seed=0)
    study = optuna.create_study(study_name="grid", storage=sqlite_url, sampler=sampler)

    def worker_dies(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0.0, 3.0)
        raise RuntimeError("worker died")

    study.optimize(worker_dies, n_trials=1, catch=(RuntimeError,))
    died = study.get_trials()[0]
    assert requeue(study, died, lost_worker=True)
    assert requeue(study, died, lost_worker=True)  # already queued: no second copy
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 3.0), n_trials=len(grid))
    trials = study.get_trials()
    retry = trials[1]
    assert retry.params == died.params and retry.user_attrs == {ORIGIN: 0, LOST: 1}
    complete = [t.params["x"] for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(complete) == grid  # the died trial's point ran once, in its retry
    # A slot whose worker died twice is not retried again.
    assert not requeue(study, retry, lost_worker=True)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(tmp_path: Path, sqlite_url: str):
    path = study_file(tmp_path, name="stop", trials=2, seeds=1, epochs=4, subsample=0.5)
    # One worker, so exactly one run is in flight when the signal comes.
    process = start_cli_run(path, sqlite_url, "--workers", "1")
    wait_for_mid_training(sqlite_url, "stop", process, finished=1)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "run the same command again to resume" in output
    with open_store(sqlite_url) as store:
        runs = store.runs(study="stop")
    assert not (runs["state"] == "running").any()
    interrupted = runs[runs["state"] == "failed"]
    assert len(interrupted) == 1
    assert "interrupted" in interrupted["failure_reason"].iloc[0]

    summary = run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        final = store.runs(study="stop")
    assert len(final) == expected_runs(2, 1) == summary.planned_runs
    assert set(final["state"]) == {"complete"}
    # The interrupted run's row was reused by its retry.
    assert interrupted["run_id"].iloc[0] in set(final["run_id"])


@pytest.mark.slow
def test_sigkill_mid_study_then_rerun_ends_with_exactly_the_planned_runs(
    tmp_path: Path, sqlite_url: str
):
    path = study_file(tmp_path, name="killed", trials=2, seeds=1, epochs=4, subsample=0.5)
    # One in-process worker: SIGKILL leaves its run `running` (spawned workers would notice the
    # dead parent and stop cleanly, which test_faults covers).
    process = start_cli_run(path, sqlite_url, "--workers", "1")
    wait_for_mid_training(sqlite_url, "killed", process, finished=1)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    with open_store(sqlite_url) as store:
        killed = store.runs(study="killed")
    assert (killed["state"] == "running").sum() == 1

    # The rerun waits for the dead trial's heartbeat to go stale (2 s), then retries it.
    summary = run_study(path, storage=sqlite_url, progress=False)
    with open_store(sqlite_url) as store:
        final = store.runs(study="killed")
    assert len(final) == expected_runs(2, 1) == summary.planned_runs
    assert set(final["state"]) == {"complete"}
    stale = [
        t
        for loss in ("cross_entropy", "poly1_cross_entropy")
        for name in (f"killed/digits/{loss}", f"killed/digits/{loss}/confirm")
        for t in optuna_trials(sqlite_url, name)
        if t.state == TrialState.FAIL
    ]
    # Exactly one trial died; its heartbeat went stale and its retry reused the run row.
    assert len(stale) == 1
    retry = [
        t
        for loss in ("cross_entropy", "poly1_cross_entropy")
        for name in (f"killed/digits/{loss}", f"killed/digits/{loss}/confirm")
        for t in optuna_trials(sqlite_url, name)
        if t.user_attrs.get(ORIGIN) == stale[0].number and t.state == TrialState.COMPLETE
    ]
    assert len(retry) == 1 and retry[0].user_attrs["run_id"] == stale[0].user_attrs["run_id"]


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_on_postgresql_give_the_planned_counts(tmp_path: Path, pg_url: str):
    path = study_file(tmp_path, name="pair", trials=3, seeds=2)
    summary = run_study(path, storage=pg_url, workers=2, progress=False)
    assert summary.worker_exit_codes == (0, 0)
    with open_store(pg_url) as store:
        runs = store.runs(study="pair")
    assert len(runs) == expected_runs(3, 2) == summary.planned_runs
    assert set(runs["state"]) <= {"complete", "pruned"}
    assert sorted(runs[runs["phase"] == "confirm"]["seed"]) == [1000, 1000, 1001, 1001]
    # Skipped trials (lost races) stored no run; every other trial has exactly one.
    for name in ("pair/digits/poly1_cross_entropy", "pair/digits/poly1_cross_entropy/confirm"):
        kept = [t for t in optuna_trials(pg_url, name) if SKIPPED not in t.user_attrs]
        assert len(kept) == (3 if not name.endswith("confirm") else 2)
    again = run_study(path, storage=pg_url, workers=2, progress=False)
    assert again.stored_runs == summary.planned_runs


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path):
    from typer.testing import CliRunner

    from polybench.cli import app

    path = study_file(tmp_path, trials=5, seeds=3)
    url = f"sqlite:///{tmp_path / 'untouched.db'}"
    result = CliRunner().invoke(app, ["run", str(path), "--storage", url, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "poly1_cross_entropy: 5 trial(s) over epsilon in [-1, 4]" in result.output
    assert f"= {2 * 5 + 2 * 3} run(s)" in result.output
    text = " ".join(result.output.split())  # the console folds long lines
    assert "cross_entropy: 5 trial(s) over label_smoothing in [0, 0.3]" in text
    assert "budget: equal, 5 trials" in text
    assert not (tmp_path / "untouched.db").exists()


def test_cli_reports_a_bad_study_file_with_exit_code_2(tmp_path: Path):
    from typer.testing import CliRunner

    from polybench.cli import app

    path = study_file(tmp_path)
    path.write_text(path.read_text().replace("poly1_cross_entropy", "poly1_cross_entropi"))
    result = CliRunner().invoke(app, ["run", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert "losses[1].loss" in result.output and "'poly1_cross_entropy'" in result.output


STUDIES = Path(__file__).resolve().parent.parent / "studies"


@pytest.mark.parametrize("study", sorted(STUDIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_studies_validate_and_plan(study: Path):
    from polybench.config import load_study

    config = load_study(study)
    plan = build_plan(config)
    assert config.name == study.stem
    assert plan.planned_runs == sum(p.trials + len(p.confirm_seeds) for p in plan.pairs) > 0


def test_run_study_leaves_the_callers_process_settings_as_it_found_them(
    tmp_path: Path, sqlite_url: str
):
    """A notebook's Optuna log level, torch thread count and Ctrl-C handler are its own: the
    study runs with its own (1 thread, Optuna errors only, its interrupt handler) and gives
    them back."""
    import torch

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    threads, verbosity = torch.get_num_threads(), optuna.logging.get_verbosity()
    sigint = signal.signal(signal.SIGINT, handler)
    try:
        torch.set_num_threads(2)  # the study file asks for 1
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        path = study_file(tmp_path, name="manners", trials=1, seeds=1, subsample=0.2)
        run_study(path, storage=sqlite_url, progress=False)
        assert torch.get_num_threads() == 2
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        torch.set_num_threads(threads)
        optuna.logging.set_verbosity(verbosity)
        signal.signal(signal.SIGINT, sigint)


def test_optuna_studies_carry_the_metric_names(tmp_path: Path, sqlite_url: str):
    """optuna-dashboard and `optuna studies` label objectives by `study.metric_names`."""
    run_study(study_file(tmp_path, trials=1, seeds=1), storage=sqlite_url, progress=False)
    for suffix, names in (("", ["val_accuracy"]), ("/confirm", ["test_accuracy"])):
        for loss in ("cross_entropy", "poly1_cross_entropy"):
            study = optuna.load_study(study_name=f"tiny/digits/{loss}{suffix}", storage=sqlite_url)
            assert study.metric_names == names


def test_labels_let_one_task_and_one_loss_appear_under_several_conditions(
    tmp_path: Path, sqlite_url: str
):
    """The same task clean and with label noise, and cross-entropy plain and with label
    smoothing searched: each entry gets its own Optuna studies and its own runs, and the noisy
    entry trains on noisy labels while the clean one does not."""
    path = tmp_path / "conditions.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: conditions
            threads: 1
            tasks:
              - {task: digits, model: small_cnn, subsample: 0.3, epochs: 1}
              - {task: digits, label: digits_noisy, model: small_cnn, subsample: 0.3, epochs: 1,
                 label_noise: {rate: 0.6, kind: symmetric}}
            losses:
              - {loss: cross_entropy, params: {label_smoothing: 0.0}}
              - loss: cross_entropy
                label: cross_entropy_ls
                search: {label_smoothing: {low: 0.05, high: 0.3}}
            tune: {lr: {low: 1.0e-3, high: 1.0e-2, log: true}}
            search: {trials: 2, sampler: random, pruner: none}
            confirm: {seeds: 1}
            """
        )
    )
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert summary.planned_runs == 2 * 2 * (2 + 1) and summary.complete
    with open_store(sqlite_url) as store:
        runs = store.runs(study="conditions")
    assert len(runs) == 12
    assert sorted(set(runs["task"])) == ["digits", "digits_noisy"]
    assert sorted(set(runs["loss"])) == ["cross_entropy", "cross_entropy_ls"]
    for task in ("digits", "digits_noisy"):
        for loss in ("cross_entropy", "cross_entropy_ls"):
            name = f"conditions/{task}/{loss}"
            assert len(optuna_trials(sqlite_url, name)) == 2
            assert len(optuna_trials(sqlite_url, f"{name}/confirm")) == 1
            mine = runs[(runs["task"] == task) & (runs["loss"] == loss)]
            assert set(mine["optuna_study"]) == {name, f"{name}/confirm"}
    plain = runs[runs["loss"] == "cross_entropy"]["param_label_smoothing"]
    smoothed = runs[runs["loss"] == "cross_entropy_ls"]["param_label_smoothing"]
    assert (plain == 0.0).all() and smoothed.between(0.05, 0.3).all()
    # 60% of the noisy entry's training labels are wrong: its training loss stays far above
    # the clean entry's after the same epoch, which a shared task cache would hide.
    with open_store(sqlite_url) as store:
        epochs = store.epochs(study="conditions")
    by_task = epochs.merge(runs[["run_id", "task"]], on="run_id").groupby("task")["train_loss"]
    assert by_task.min()["digits_noisy"] > by_task.max()["digits"]


def test_two_entries_with_one_name_are_refused_with_a_hint_to_label_them(tmp_path: Path):
    from polybench.config import ConfigError, load_study

    path = tmp_path / "twice.yaml"
    path.write_text(
        "name: twice\ntasks:\n  - task: digits\n  - task: digits\n    label_noise: 0.4\n"
        "losses:\n  - loss: focal\n  - loss: focal\n    params: {gamma: 1.0}\n"
        "  - loss: focal\n    label: cross_entropy\n"
    )
    with pytest.raises(ConfigError) as error:
        load_study(path)
    lines = str(error.value).splitlines()
    assert any("tasks[1].task: 'digits' is already listed at tasks[0]" in x for x in lines)
    assert any("losses[1].loss: 'focal' is already listed at losses[0]" in x for x in lines)
    assert any("give one a `label:`" in x for x in lines)
    assert any("losses[2].label: 'cross_entropy' is the name of another loss" in x for x in lines)


def test_a_worker_reads_each_pairs_search_runs_once_to_pick_its_best(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    """Picking a pair's best search run reads its runs from the store; a worker does that once
    per pair (its search trials do not change afterwards), not before every later trial: those
    reads were most of the runner's time outside `fit` (`benchmarks/runner.py`)."""
    from polybench.db import Store

    searched: list[str] = []
    real_runs = Store.runs

    def counted_runs(self: Store, *args: object, **kwargs: object):
        if kwargs.get("phase") == "search":
            searched.append(str(kwargs.get("loss")))
        return real_runs(self, *args, **kwargs)

    monkeypatch.setattr(Store, "runs", counted_runs)
    path = study_file(tmp_path, name="once", trials=2, seeds=2, subsample=0.2)
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert summary.complete and summary.stored_runs == expected_runs(2, 2)
    assert sorted(searched) == ["cross_entropy", "poly1_cross_entropy"]


def test_optunas_sqlite_connections_commit_like_the_stores(sqlite_url: str):
    """WAL with `synchronous = NORMAL` on Optuna's connections too: SQLite's default syncs
    the file at every commit, and Optuna commits several times per trial."""
    from polybench.db._retry import StorageRetry
    from polybench.runner._storage import RetryingRDBStorage

    open_store(sqlite_url).close()
    storage = RetryingRDBStorage(
        sqlite_url, retry=StorageRetry(), engine_kwargs={"connect_args": {"timeout": 60}}
    )
    optuna.create_study(study_name="journal", storage=storage).ask().set_user_attr("a", 1)
    with storage.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_two_workers_cannot_both_take_one_waiting_trial_on_sqlite(sqlite_url: str):
    """Optuna takes a queued trial by reading it WAITING, then writing RUNNING. On SQLite, unless
    that read and write are one locked transaction, a second worker can take the same trial
    between them; both then run it and the second to finish dies with "Cannot tell a COMPLETE
    trial" (seen in `benchmarks/runner.py` with 2 workers). Here worker B tries to take the
    trial while worker A sits between its read and its write."""
    import threading

    from sqlalchemy import event

    from polybench.db._retry import StorageRetry
    from polybench.runner._storage import RetryingRDBStorage

    open_store(sqlite_url).close()

    def storage() -> RetryingRDBStorage:
        return RetryingRDBStorage(
            sqlite_url, retry=StorageRetry(), engine_kwargs={"connect_args": {"timeout": 10}}
        )

    first, second = storage(), storage()
    study = optuna.create_study(study_name="queue", storage=first)
    study.enqueue_trial({"x": 1.0})
    (waiting,) = study.get_trials(deepcopy=False)
    taken: dict[str, bool] = {}

    def take(name: str, where: RetryingRDBStorage) -> None:
        taken[name] = where.set_trial_state_values(waiting._trial_id, TrialState.RUNNING)

    other = threading.Thread(target=take, args=("B", second))

    def between_read_and_write(conn, cursor, statement, *_: object) -> None:
        reads = statement.lstrip().upper().startswith("SELECT") and "trials" in statement
        if reads and not other.is_alive() and "B" not in taken:
            other.start()
            other.join(timeout=2.0)  # B finishes here only if A's read left it free

    event.listen(first.engine, "after_cursor_execute", between_read_and_write)
    take("A", first)
    other.join(timeout=30)
    assert sorted(taken.items()) == [("A", True), ("B", False)]


def test_every_pairs_search_runs_before_any_confirm_run(tmp_path: Path, sqlite_url: str):
    """Searches first, then confirm runs: while some workers run a pair's last search trials,
    the others confirm pairs already searched instead of waiting at that pair's boundary
    between search and confirm (seen with 2 workers: one idle for most of a trial per pair)."""
    path = study_file(tmp_path, name="order", trials=2, seeds=2, subsample=0.2)
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert summary.complete
    with open_store(sqlite_url) as store:
        runs = store.runs(study="order").sort_values("started_at")
    assert list(runs["phase"]) == ["search"] * 4 + ["confirm"] * 4
    assert runs["started_at"].is_unique


def test_a_worker_waiting_on_others_looks_again_soon_then_less_often(
    tmp_path: Path, sqlite_url: str
):
    """With every slot held by other workers, a worker looks again after 0.1 s, doubling up to
    1 s: the last trials of a short search end within a fraction of a second, and a worker that
    slept a whole second each time left its core idle for it (`benchmarks/runner.py`)."""
    from polybench.config import load_study
    from polybench.runner._worker import Interrupts, Worker, open_optuna_storage

    config = load_study(study_file(tmp_path, name="held", trials=1, seeds=1))
    plan = build_plan(config)

    class Recorded(Interrupts):
        def __init__(self) -> None:
            super().__init__()
            self.sleeps: list[float] = []

        def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            self.requested = len(self.sleeps) >= 6

    with open_store(sqlite_url) as store:
        store.ensure_study(config.name, config.text)
        storage = open_optuna_storage(sqlite_url, config, store)
        other = optuna.storages.RDBStorage(sqlite_url)
        for pair in plan.pairs:  # another worker runs each pair's only search trial
            optuna.create_study(study_name=pair.search_study, storage=other).ask()
        other.engine.dispose()
        interrupts = Recorded()
        report = Worker(plan, store, storage, interrupts=interrupts).run()
        storage.engine.dispose()
    assert report.interrupted and report.trials == 0
    assert interrupts.sleeps == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_the_live_progress_table_does_not_hold_up_the_start_of_the_workers(
    tmp_path: Path, sqlite_url: str
):
    """The first table is read and drawn by the display's thread: the study goes on (spawns
    its workers) while the store is read and what the table needs is imported."""
    import io
    import threading

    from rich.console import Console

    from polybench.config import load_study
    from polybench.runner._progress import LiveProgress

    config = load_study(study_file(tmp_path, name="shown"))
    read_done = threading.Event()
    go_on = threading.Event()

    with open_store(sqlite_url) as store:
        store.ensure_study(config.name, config.text)

        def read():
            go_on.wait(timeout=2)
            read_done.set()
            return store.runs(study=config.name)

        output = io.StringIO()
        console = Console(file=output, width=200, force_terminal=False)
        with LiveProgress(read, build_plan(config), console, workers=2, interval=0.05):
            entered_while_reading = not read_done.is_set()
            go_on.set()
    assert entered_while_reading
    assert "study shown" in output.getvalue() and "poly1_cross_entropy" in output.getvalue()


def test_workers_end_with_their_last_log_lines_written_to_the_callers_output(
    tmp_path: Path, sqlite_url: str, capfd: pytest.CaptureFixture[str]
):
    """A worker ends without the interpreter's teardown (0.4 s of torch finalisers at the end
    of every study); what it logged last still reaches the output, and it exits 0. The output is
    this call's: the fork server the workers come from started while stderr went elsewhere."""
    import os

    from polybench.runner._study import _start_fork_server

    with open(tmp_path / "elsewhere.txt", "w") as elsewhere:
        saved = os.dup(2)
        os.dup2(elsewhere.fileno(), 2)
        try:
            _start_fork_server()  # a no-op if an earlier test started it: elsewhere too
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    path = study_file(
        tmp_path, name="last", trials=1, seeds=1, tune="tune: {lr: {values: [1.0e+30]}}\n"
    )
    summary = run_study(path, storage=sqlite_url, workers=2, progress=False)
    assert summary.worker_exit_codes == (0, 0)
    assert summary.runs_by_state == {"failed": 2}
    err = capfd.readouterr().err
    for loss in ("cross_entropy", "poly1_cross_entropy"):
        assert f"last/digits/{loss}: no search trial completed" in err


def test_workers_see_the_environment_of_the_call_not_of_the_fork_servers_start(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    """Workers are forked from a fork server that lives as long as this process; a variable
    set after it started still reaches them, as it would a spawned process. The study's plug-in
    file reads the variable when a worker imports it."""
    from polybench.runner._study import _start_fork_server

    _start_fork_server()  # running from here on, with this environment
    (tmp_path / "needs_mark.py").write_text(
        "import os\n\nMARK = os.environ['POLYBENCH_TEST_MARK']  # KeyError without it\n"
    )
    path = study_file(tmp_path, name="environ", trials=1, seeds=1, subsample=0.2)
    path.write_text(path.read_text() + "plugins: [./needs_mark.py]\n")
    monkeypatch.setenv("POLYBENCH_TEST_MARK", "set after the fork server started")
    summary = run_study(path, storage=sqlite_url, workers=2, progress=False)
    assert summary.worker_exit_codes == (0, 0)
    assert summary.complete and summary.stored_runs == expected_runs(1, 1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("workers", "server"), [("1", False), ("2", True)])
def test_a_fork_server_runs_beside_worker_processes_only(
    tmp_path: Path, sqlite_url: str, workers: str, server: bool
):
    """With `--workers 1` (text, as the CLI passes it) the study trains in the calling process,
    and a fork server would only import torch again in the background, beside the training."""
    import subprocess

    path = study_file(tmp_path, name="alone", trials=1, seeds=0, subsample=0.2)
    code = textwrap.dedent(
        f"""
        import os
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from _procs import descendants
        from polybench.runner import run_study

        run_study({str(path)!r}, storage={sqlite_url!r}, workers={workers!r}, progress=False)
        for pid, command in descendants(os.getpid()).items():
            if "forkserver" in command:
                print("fork server", pid)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert ("fork server" in done.stdout) is server, done.stdout + done.stderr
