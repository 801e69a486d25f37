"""How many workers to start on this machine, with how many threads, on which devices.

The choices are pure functions of plain numbers (`choose_workers`, `place_workers`), so they are
tested without the hardware they describe; `physical_cores` and `cuda_device_count` read the
machine at the edge and feed them.

On CPU, polybench's tasks train small models at batch 64, where one process per physical core
beats one process with many threads: `--workers auto` starts `cores // threads` workers (the
study's `threads`, 1 when unset), never more than the runs that can happen at once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

AUTO = "auto"


class PlacementError(ValueError):
    """A `--workers`, `--devices` or `--workers-per-device` value this machine cannot honour."""


@dataclass(frozen=True)
class WorkerLayout:
    """`workers` processes, each with `threads` torch CPU threads; `devices[i]` is worker i's
    device (`"cpu"`, `"cuda:0"`, ...), or `None` where the study's own `device` setting decides."""

    workers: int
    threads: int
    devices: tuple[str | None, ...]
    reason: str


def choose_workers(
    requested: int | str,
    *,
    cores: int,
    study_threads: int | None,
    planned_runs: int,
    devices: tuple[str, ...] = (),
    workers_per_device: int = 1,
) -> WorkerLayout:
    """The worker layout for `--workers` (an int, or "auto") on a machine with `cores`.

    auto on CPU: `max(1, cores // threads)` workers with `threads = study_threads or 1`.
    auto with devices: `len(devices) * workers_per_device` workers. Either way no more than
    `planned_runs` (a worker with nothing to do only costs its start-up). An explicit count is
    kept as given; its threads are the study's, else `cores // workers`.

    Raises:
        PlacementError: for a count below 1, a word other than "auto", or `workers_per_device` < 1.
    """
    if workers_per_device < 1:
        raise PlacementError(f"--workers-per-device must be at least 1, got {workers_per_device}.")
    cores = max(1, cores)
    if isinstance(requested, str) and requested.strip().lower() == AUTO:
        if devices:
            workers = len(devices) * workers_per_device
            reason = f"{len(devices)} device(s) x {workers_per_device} worker(s) per device"
        else:
            per_worker = study_threads or 1
            workers = max(1, cores // per_worker)
            reason = f"{cores} physical core(s) / {per_worker} thread(s) per worker"
        if planned_runs >= 1 and workers > planned_runs:
            workers = planned_runs
            reason += f", capped at the {planned_runs} planned run(s)"
        threads = study_threads or max(1, cores // workers)
    else:
        workers = _as_count(requested)
        threads = study_threads or max(1, cores // workers)
        reason = "--workers"
    return WorkerLayout(
        workers=workers,
        threads=threads,
        devices=place_workers(workers, devices),
        reason=reason,
    )


def place_workers(workers: int, devices: tuple[str, ...]) -> tuple[str | None, ...]:
    """Worker i gets `devices[i % len(devices)]` (round-robin); no devices: None for each."""
    if not devices:
        return (None,) * workers
    return tuple(devices[index % len(devices)] for index in range(workers))


def parse_devices(text: str | None, cuda_count: int) -> tuple[str, ...]:
    """`--devices` as a tuple: "auto" is every visible CUDA device (none: empty, so the study's
    `device` decides), "cuda:0,cuda:1" is that list, None or "" is empty.

    Raises:
        PlacementError: naming an entry that is not `cpu`, `cuda` or `cuda:N`, or a CUDA index
            this machine does not have.
    """
    if text is None or not text.strip():
        return ()
    if text.strip().lower() == AUTO:
        return tuple(f"cuda:{index}" for index in range(cuda_count))
    devices = []
    for raw in text.split(","):
        entry = raw.strip().lower()
        if entry == "cuda":
            entry = "cuda:0"
        if entry == "cpu":
            devices.append(entry)
            continue
        head, _, index = entry.partition(":")
        if head != "cuda" or not index.isdigit():
            raise PlacementError(
                f"--devices: {raw.strip()!r} is not a device; allowed: auto, or a comma-separated "
                "list of cpu, cuda, cuda:N (e.g. cuda:0,cuda:1)."
            )
        if int(index) >= cuda_count:
            raise PlacementError(
                f"--devices: {entry} does not exist here; this machine has {cuda_count} CUDA "
                "device(s)" + (f" (cuda:0 .. cuda:{cuda_count - 1})." if cuda_count else ".")
            )
        devices.append(f"cuda:{int(index)}")
    return tuple(devices)


def physical_cores() -> int:
    """Physical cores this process may use: the affinity mask's distinct (package, core) pairs
    from Linux's sysfs topology, capped by a cgroup CPU quota (containers, Kubernetes limits);
    `os.cpu_count()` where that information is missing."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        allowed = list(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            cores = set()
            break
        cores.add((package, core))
    count = len(cores) or len(allowed) or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(count, quota)) if quota is not None else count


def _cgroup_cpu_quota() -> int | None:
    """CPUs allowed by cgroup v2's `cpu.max` (rounded up), None where unlimited or absent."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def cuda_device_count() -> int:
    """Visible CUDA devices (0 without CUDA), read without initialising CUDA in this process
    where torch allows, so that the workers (spawned where they may use CUDA) can still use it."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _as_count(requested: int | str) -> int:
    try:
        count = int(requested)
    except (TypeError, ValueError):
        raise PlacementError(
            f"--workers: {requested!r} is not a number of workers; allowed: auto or an "
            "integer >= 1."
        ) from None
    if count < 1:
        raise PlacementError(f"--workers must be at least 1, got {count}.")
    return count
