"""How the runner scales with workers, and what it costs per trial outside `fit`.

Runs one study (the quickstart by default) from an empty SQLite database with each worker count,
interleaved over the repeats (1, 2, 1, 2, ...) so machine load hits them alike, and prints:

- the study's wall time per worker count and the speed-up against the first count (median of
  the repeats; this is the number `--workers auto` is for);
- the runner's overhead per trial with one worker: for consecutive runs of the single in-process
  worker, the time from one run's end to the next run's end minus the next run's `fit` wall time
  (Optuna ask/tell and sampling, store writes, task and model set-up), median and as a share of
  the median trial;
- the load average before and after, because on a shared machine the speed-up of two workers is
  only meaningful when the second core is free.

    .venv/bin/python benchmarks/runner.py                          # quickstart, 1 vs 2 workers
    .venv/bin/python benchmarks/runner.py --trials 2 --seeds 1     # scaled down (about a third)
    .venv/bin/python benchmarks/runner.py --workers 1,2,4 --repeats 3 --study studies/x.yaml
    .venv/bin/python benchmarks/runner.py --cli --repeats 2       # the command a user types
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from polybench.config import load_study
from polybench.db import open_store
from polybench.runner import build_plan, run_study


def scaled_study(path: Path, folder: Path, trials: int | None, seeds: int | None) -> Path:
    """A copy of the study file with `search.trials` / `confirm.seeds` replaced where given."""
    data = yaml.safe_load(path.read_text())
    if trials is not None:
        data.setdefault("search", {})["trials"] = trials
    if seeds is not None:
        data.setdefault("confirm", {})["seeds"] = seeds
    copy = folder / path.name
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy


def overhead_per_trial(runs: pd.DataFrame, study_started: pd.Timestamp) -> pd.Series:
    """Seconds outside `fit` per run of ONE sequential worker: end-to-end gap minus wall time."""
    finished = runs.dropna(subset=["finished_at", "wall_time"]).sort_values("finished_at")
    ends = pd.to_datetime(finished["finished_at"], utc=True)
    previous = ends.shift(1).fillna(study_started)
    gaps = (ends - previous).dt.total_seconds()
    return (gaps - finished["wall_time"]).clip(lower=0.0)


def run_cli(study: Path, url: str, workers: int) -> None:
    """`polybench run STUDY --storage URL --workers N` as a user types it (its live table
    drawn to a pipe); the error output is shown if it fails."""
    command = Path(sys.executable).with_name("polybench")
    done = subprocess.run(
        [str(command), "run", str(study), "--storage", url, "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{command} run failed ({done.returncode}):\n{done.stderr}")


def measure(study: Path, workers: int, folder: Path, tag: str, cli: bool) -> dict[str, float]:
    """One run of the study from an empty database; wall time and per-trial accounting."""
    url = f"sqlite:///{folder / f'{tag}.db'}"
    config = load_study(study)
    started_wall = pd.Timestamp.now(tz="UTC")
    start = time.perf_counter()
    if cli:
        run_cli(study, url, workers)
    else:
        run_study(config, storage=url, workers=workers, progress=False)
    wall = time.perf_counter() - start
    with open_store(url) as store:
        runs = store.runs(study=config.name)
    fit_seconds = float(runs["wall_time"].sum())
    result = {
        "wall": wall,
        "runs": float(len(runs)),
        "planned": float(build_plan(config).planned_runs),
        "fit_share": fit_seconds / (wall * workers),
    }
    if workers == 1:
        overhead = overhead_per_trial(runs, started_wall)
        trial = (
            overhead
            + runs.dropna(subset=["wall_time"]).sort_values("finished_at")["wall_time"].to_numpy()
        )
        result["overhead_median"] = float(overhead.median())
        result["trial_median"] = float(trial.median())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, default=Path("studies/quickstart.yaml"))
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--trials", type=int, default=None, help="override search.trials")
    parser.add_argument("--seeds", type=int, default=None, help="override confirm.seeds")
    parser.add_argument(
        "--cli",
        action="store_true",
        help="time the `polybench run` command (start-up and live table included) instead of "
        "`run_study` in this process",
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    load_before = os.getloadavg()
    results: dict[int, list[dict[str, float]]] = {c: [] for c in counts}
    with tempfile.TemporaryDirectory(prefix="polybench-runner-bench-") as tmp:
        folder = Path(tmp)
        study = scaled_study(args.study, folder, args.trials, args.seeds)
        for repeat in range(args.repeats):
            for count in counts:
                tag = f"w{count}-r{repeat}"
                results[count].append(measure(study, count, folder, tag, args.cli))
    load_after = os.getloadavg()
    base = statistics.median(r["wall"] for r in results[counts[0]])
    print(
        f"study {args.study} (trials {args.trials or 'as file'}, seeds {args.seeds or 'as file'}), "
        f"{'the polybench run command' if args.cli else 'run_study in this process'}, "
        f"{args.repeats} interleaved repeat(s), {os.cpu_count()} logical CPUs; load average "
        f"before {load_before[0]:.2f} / {load_before[1]:.2f}, after {load_after[0]:.2f} / "
        f"{load_after[1]:.2f} (1 / 5 min)"
    )
    print(
        f"{'workers':>7s} {'runs':>9s} {'wall s (median)':>16s} {'speed-up':>9s} {'fit share':>10s}"
        "   wall s of each repeat"
    )
    for count in counts:
        rows = results[count]
        wall = statistics.median(r["wall"] for r in rows)
        stored = f"{int(rows[0]['runs'])}/{int(rows[0]['planned'])}"
        share = statistics.median(r["fit_share"] for r in rows)
        each = ", ".join(f"{r['wall']:.1f}" for r in rows)
        print(f"{count:7d} {stored:>9s} {wall:16.1f} {base / wall:8.2f}x {share:9.0%}   {each}")
    if args.repeats > 1 and len(counts) > 1:
        # Repeat i of every count ran back to back, so their ratio saw the same machine load.
        for count in counts[1:]:
            ratios = [
                first["wall"] / other["wall"]
                for first, other in zip(results[counts[0]], results[count], strict=True)
            ]
            listed = ", ".join(f"{ratio:.2f}x" for ratio in ratios)
            print(f"speed-up of {count} workers in each repeat: {listed}")
    if 1 in results:
        overhead = statistics.median(r["overhead_median"] for r in results[1])
        trial = statistics.median(r["trial_median"] for r in results[1])
        print(
            f"runner overhead per trial (1 worker, time outside fit): median {overhead * 1e3:.0f} "
            f"ms of a median {trial:.2f} s trial = {overhead / trial:.1%} (target < 5%)"
        )


if __name__ == "__main__":
    main()
