"""How many workers `--workers auto` starts, with how many threads, on which devices.

`choose_workers`, `place_workers` and `parse_devices` are pure functions of the machine's numbers,
so every case (2-core laptop, 64-core server, 8-GPU node) is specified here on any CPU.
"""

from __future__ import annotations

import os

import pytest

from polybench.runner._placement import (
    PlacementError,
    choose_workers,
    parse_devices,
    physical_cores,
    place_workers,
)


@pytest.mark.parametrize(
    ("cores", "study_threads", "planned", "workers", "threads"),
    [
        (2, None, 50, 2, 1),  # the quickstart on the 2-core machine: both cores busy
        (2, 1, 50, 2, 1),
        (2, 2, 50, 1, 2),  # a study that asks for 2 threads per run gets one worker
        (64, 4, 500, 16, 4),
        (64, None, 10, 10, 6),  # never more workers than runs; spare cores become threads
        (1, None, 5, 1, 1),
        (4, 8, 5, 1, 8),  # more threads than cores: one worker, the study's threads kept
    ],
)
def test_auto_picks_one_worker_per_core_divided_by_the_study_threads(
    cores, study_threads, planned, workers, threads
):
    layout = choose_workers("auto", cores=cores, study_threads=study_threads, planned_runs=planned)
    assert (layout.workers, layout.threads) == (workers, threads)
    assert layout.devices == (None,) * workers
    assert f"{cores} physical core" in layout.reason


def test_an_explicit_count_is_kept_and_threads_share_the_cores():
    layout = choose_workers(3, cores=8, study_threads=None, planned_runs=2)
    assert (layout.workers, layout.threads) == (3, 2)
    assert choose_workers("4", cores=8, study_threads=1, planned_runs=99).workers == 4


@pytest.mark.parametrize("bad", [0, -1, "two", "1.5", ""])
def test_bad_worker_counts_are_refused_with_one_clear_line(bad):
    with pytest.raises(PlacementError, match="--workers") as error:
        choose_workers(bad, cores=2, study_threads=None, planned_runs=4)
    assert "\n" not in str(error.value)


def test_devices_place_workers_round_robin():
    assert place_workers(5, ("cuda:0", "cuda:1")) == (
        "cuda:0",
        "cuda:1",
        "cuda:0",
        "cuda:1",
        "cuda:0",
    )
    assert place_workers(2, ()) == (None, None)


def test_auto_with_devices_starts_workers_per_device_on_each():
    devices = ("cuda:0", "cuda:1", "cuda:2")
    layout = choose_workers(
        "auto", cores=32, study_threads=None, planned_runs=100, devices=devices,
        workers_per_device=2,
    )  # fmt: skip
    assert layout.workers == 6
    assert sorted(layout.devices) == sorted(devices * 2)
    assert layout.threads == 32 // 6
    small = choose_workers(
        "auto", cores=32, study_threads=None, planned_runs=4, devices=devices,
        workers_per_device=2,
    )  # fmt: skip
    assert small.workers == 4 and small.devices == ("cuda:0", "cuda:1", "cuda:2", "cuda:0")
    with pytest.raises(PlacementError, match="--workers-per-device"):
        choose_workers("auto", cores=2, study_threads=None, planned_runs=4, workers_per_device=0)


def test_parse_devices_reads_auto_lists_and_refuses_missing_gpus():
    assert parse_devices("auto", cuda_count=2) == ("cuda:0", "cuda:1")
    assert parse_devices("auto", cuda_count=0) == ()
    assert parse_devices(None, cuda_count=4) == ()
    assert parse_devices(" cuda:1, cuda ,cpu", cuda_count=2) == ("cuda:1", "cuda:0", "cpu")
    with pytest.raises(PlacementError, match=r"cuda:2 does not exist here; .* 2 CUDA device"):
        parse_devices("cuda:0,cuda:2", cuda_count=2)
    with pytest.raises(PlacementError, match="'gpu0' is not a device; allowed: auto"):
        parse_devices("gpu0", cuda_count=2)


def test_physical_cores_is_within_what_this_process_may_use():
    cores = physical_cores()
    assert 1 <= cores <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("study_device", "worker_device", "cuda"),
    [
        ("cpu", None, False),
        ("cuda", None, True),
        ("cpu", "cuda:1", True),  # --devices places this worker on a GPU
        ("auto", "cpu", False),
        ("auto", None, None),  # CUDA when this machine has it
    ],
)
def test_workers_that_may_use_cuda_are_spawned_the_others_forked(
    study_device: str, worker_device: str | None, cuda: bool | None
):
    import multiprocessing

    import torch

    from polybench.config import parse_study
    from polybench.runner._study import _may_use_cuda, _start_method

    config = parse_study(
        f"name: place\ndevice: {study_device}\ntasks: [{{task: digits}}]\n"
        "losses: [{loss: cross_entropy}]\n"
    )
    expected = torch.cuda.is_available() and torch.cuda.device_count() > 0 if cuda is None else cuda
    assert _may_use_cuda(config, worker_device) is expected
    forks = "forkserver" in multiprocessing.get_all_start_methods()
    assert _start_method(cuda=expected) == ("forkserver" if forks and not expected else "spawn")


@pytest.mark.parametrize(
    ("workers", "several"), [(1, False), ("1", False), (2, True), ("3", True), ("auto", True)]
)
def test_the_fork_server_is_started_only_where_several_workers_may_run(
    workers: int | str, several: bool
):
    """`--workers 1` (the CLI passes text) trains in the calling process: starting the fork
    server there would import torch a second time in the background, beside the training."""
    from polybench.runner._study import _may_start_several

    assert _may_start_several(workers) is several
