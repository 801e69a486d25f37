"""One training run: `fit(task, model, loss, loss_params, ...) -> RunResult`.

The data of the small tasks fits in memory, so it lives on the device as tensors and is batched
by indexing a shuffled permutation: no DataLoader, no worker processes, no per-batch copies
between host and device. Evaluation runs under `torch.inference_mode`.

What a run reports (`RunResult`): accuracy, macro-F1, balanced accuracy and expected calibration
error on the validation split, and on the test split only when `evaluate_test=True` (search
trials pass False, so no setting can be picked by its test score), the per-epoch curve (with
every validation metric, so a pruner can watch the study's objective), training throughput
(samples/s of training steps only, the first step excluded as warm-up, synchronized on CUDA),
evaluation throughput, wall time and the environment. `val_loss` is the cross-entropy of the
validation split whatever loss trains, so curves of different losses share one yardstick;
probabilities for the calibration error are the softmax of the logits.

A run whose training or validation loss turns NaN or infinite stops at once with state "failed"
and a reason naming the epoch and step; its metrics are NaN. `on_epoch(record)` returning True
stops a run early with state "pruned" (how the runner prunes trials).

Same seed, same machine (CPU): same metrics. `fit` seeds a forked RNG, so the caller's global
random state is left as it was.
"""

from __future__ import annotations

import functools
import logging
import math
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from polybench.errors import UnknownName
from polybench.tasks import TaskData, load_task
from polybench.vocab import (
    ACCURACY,
    BALANCED_ACCURACY,
    BASELINE_LOSS,
    COMPLETE,
    ECE,
    FAILED,
    LOSS,
    MACRO_F1,
    PRUNED,
    RUN_METRIC_COLUMNS,
    TEST_PREFIX,
    VAL_PREFIX,
)

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("cosine", "linear", "constant")
METRIC_NAMES = RUN_METRIC_COLUMNS
ECE_BINS = 15


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EpochRecord:
    """One point of the training curve. `lr` is the learning rate at the epoch's first step;
    `seconds` the epoch's wall time (training and validation); `train_throughput` samples/s of
    its training steps. The validation metrics are those of `classification_metrics`."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float
    train_throughput: float
    val_macro_f1: float = math.nan
    val_balanced_accuracy: float = math.nan
    val_ece: float = math.nan


@dataclass(frozen=True)
class Environment:
    """Where a run ran."""

    host: str
    device: str
    torch_version: str
    threads: int
    git_commit: str | None


@dataclass(frozen=True)
class RunResult:
    """The outcome of `fit`. `state` is "complete", "pruned" or "failed" (then
    `failure_reason` says why and the metrics are NaN). `metrics` has the keys of
    `METRIC_NAMES`; the test ones are NaN when `fit` ran with `evaluate_test=False`.
    `settings` holds the resolved training settings (defaults filled in) and, under
    `task_options`, the task's condition (data_seed, subsample, imbalance, label_noise, ...)
    as plain values."""

    state: str
    failure_reason: str | None
    epochs_done: int
    metrics: dict[str, float]
    curve: list[EpochRecord]
    train_throughput: float
    eval_throughput: float
    wall_time: float
    environment: Environment
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (NaN and infinities become None)."""
        return _json_safe(asdict(self))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@functools.cache
def git_commit() -> str | None:
    """`git rev-parse HEAD` in the working directory, once per process; None outside git."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def environment(device: torch.device) -> Environment:
    """The environment of a run on `device`."""
    name = str(device)
    if device.type == "cuda":
        name = f"{device} ({torch.cuda.get_device_name(device)})"
    return Environment(
        host=socket.gethostname(),
        device=name,
        torch_version=torch.__version__,
        threads=torch.get_num_threads(),
        git_commit=git_commit(),
    )


def resolve_device(device: str) -> torch.device:
    """`auto` -> CUDA when present, else CPU; anything else as torch parses it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(
            f"device {device!r} is not valid ({error}); use auto, cpu or cuda."
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for CUDA, but this machine has none.")
    return resolved


# ----------------------------------------------------------------------------- metrics


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Share of `pred` (N,) equal to `target` (N,)."""
    return (pred == target).double().mean().item() if len(target) else math.nan


def _counts(pred: torch.Tensor, target: torch.Tensor, num_classes: int):
    """Per-class true positives, predicted counts and true counts, (num_classes,) each."""
    tp = torch.bincount(target[pred == target], minlength=num_classes).double()
    predicted = torch.bincount(pred, minlength=num_classes).double()
    actual = torch.bincount(target, minlength=num_classes).double()
    return tp, predicted, actual


def macro_f1(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """Unweighted mean F1 over the classes that occur in `target` or `pred` (as
    sklearn's `f1_score(average="macro")`)."""
    tp, predicted, actual = _counts(pred, target, num_classes)
    present = (predicted + actual) > 0
    f1 = 2 * tp[present] / (predicted[present] + actual[present])
    return f1.mean().item() if present.any() else math.nan


def balanced_accuracy(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """Mean recall over the classes that occur in `target` (as sklearn's
    `balanced_accuracy_score`)."""
    tp, _, actual = _counts(pred, target, num_classes)
    present = actual > 0
    return (tp[present] / actual[present]).mean().item() if present.any() else math.nan


def expected_calibration_error(
    probabilities: torch.Tensor, target: torch.Tensor, bins: int = ECE_BINS
) -> float:
    """ECE (Guo et al. 2017): confidence = max probability, `bins` equal-width bins over (0, 1];
    sum over bins of |accuracy - mean confidence| weighted by the bin's share of examples.
    probabilities: (N, C); target: (N,)."""
    if len(target) == 0:
        return math.nan
    confidence, pred = probabilities.double().max(dim=1)
    correct = (pred == target).double()
    index = (torch.ceil(confidence * bins).long() - 1).clamp(0, bins - 1)
    size = torch.bincount(index, minlength=bins).double()
    gap = torch.bincount(index, weights=correct - confidence, minlength=bins).abs()
    return (gap.sum() / size.sum()).item()


def classification_metrics(
    logits: torch.Tensor, target: torch.Tensor, num_classes: int, prefix: str = ""
) -> dict[str, float]:
    """Accuracy, macro-F1, balanced accuracy and ECE of logits (N, C) against target (N,)."""
    logits, target = logits.float().cpu(), target.cpu()
    pred = logits.argmax(dim=1)
    return {
        prefix + ACCURACY.name: accuracy(pred, target),
        prefix + MACRO_F1.name: macro_f1(pred, target, num_classes),
        prefix + BALANCED_ACCURACY.name: balanced_accuracy(pred, target, num_classes),
        prefix + ECE.name: expected_calibration_error(logits.softmax(dim=1), target),
    }


# ----------------------------------------------------------------------------- the run


def build_optimizer(name: str, parameters, lr: float, weight_decay: float):
    """AdamW, Adam, or SGD with Nesterov momentum 0.9.

    Adam and AdamW use torch's fused kernel on CPU and CUDA: one pass over each parameter
    instead of several, which matters for models with large embedding tables (fastText's
    hashed n-grams: about 9x faster steps on CPU)."""
    parameters = list(parameters)
    fused = bool(parameters) and all(p.device.type in ("cpu", "cuda") for p in parameters)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, fused=fused or None)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay, fused=fused or None)
    if name == "sgd":
        return torch.optim.SGD(
            parameters, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
        )
    raise UnknownName("optimizer", name, OPTIMIZERS)


def lr_factor(schedule: str, step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the base learning rate at `step` (0-based): linear warm-up over
    `warmup_steps`, then cosine or linear decay to 0 at `total_steps`, or constant."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "linear":
        return 1.0 - progress
    raise UnknownName("schedule", schedule, SCHEDULES)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def predict(net: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits (N, C) of `net` in eval mode, computed in batches."""
    net.eval()
    return torch.cat([net(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def _autocast(device: torch.device, amp: str | None) -> Callable[[], Any]:
    """A context factory: `torch.autocast` in the `amp` dtype on `device`, or a no-op."""
    import contextlib

    if amp is None:
        return contextlib.nullcontext
    return functools.partial(torch.autocast, device_type=device.type, dtype=AMP_DTYPES[amp])


class _RunFailed(Exception):
    """Internal: the loss became NaN or infinite."""


@dataclass(frozen=True)
class _Settings:
    model: str
    loss: str
    loss_params: dict[str, Any]
    optimizer: str
    lr: float
    weight_decay: float
    schedule: str
    warmup_epochs: float
    epochs: int
    batch_size: int
    eval_batch_size: int
    grad_clip: float | None
    seed: int
    order_seed: int
    model_params: dict[str, Any]
    amp: str | None = None
    channels_last: bool = False
    compile: bool = False


AMP_DTYPES = {"bf16": torch.bfloat16}


def fit(
    task: TaskData | str,
    model: str,
    loss: str = BASELINE_LOSS,
    loss_params: Mapping[str, Any] | None = None,
    *,
    optimizer: str | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    schedule: str | None = None,
    warmup_epochs: float = 0.0,
    epochs: int | None = None,
    batch_size: int | None = None,
    eval_batch_size: int = 1024,
    grad_clip: float | None = None,
    seed: int = 0,
    device: str = "auto",
    model_params: Mapping[str, Any] | None = None,
    on_epoch: Callable[[EpochRecord], bool | None] | None = None,
    threads: int | None = None,
    evaluate_test: bool = True,
    order_seed: int | None = None,
    amp: str | None = None,
    channels_last: bool = False,
    compile: bool = False,
) -> RunResult:
    """Train `model` on `task` with `loss` and return the metrics, curve and throughput.

    `task` is a loaded `TaskData` or a task name (loaded with default options). Settings left
    None take the task's defaults (`task.defaults`). `schedule` is applied per step after
    `warmup_epochs` of linear warm-up. `threads` sets torch's CPU threads for this run only.
    `seed` draws the initial weights and `order_seed` (default: `seed`) the batch order, so the
    two sources of variance can be varied apart. `evaluate_test=False` never touches the test
    split: the test metrics are NaN (what the runner's search trials do).
    `amp="bf16"` runs forward passes under `torch.autocast` in bfloat16 (the losses compute in
    float32 inside); `channels_last` stores image batches and the model in channels-last
    layout; `compile` trains through `torch.compile`d model and loss, and falls back to eager
    (with a warning) where compilation fails.

    >>> from polybench.tasks import load_task
    >>> result = fit(load_task("digits", subsample=0.3), "small_cnn", "cross_entropy",
    ...              epochs=1, device="cpu")
    >>> result.state, sorted(result.metrics)[:2]
    ('complete', ['test_accuracy', 'test_balanced_accuracy'])
    """
    from polybench.losses import build_loss
    from polybench.models import build_model, validate_model

    started = time.perf_counter()
    data = load_task(task) if isinstance(task, str) else task
    defaults = data.defaults
    settings = _Settings(
        model=model,
        loss=loss,
        loss_params=dict(loss_params or {}),
        optimizer=optimizer or defaults.optimizer,
        lr=float(lr if lr is not None else defaults.lr),
        weight_decay=float(weight_decay if weight_decay is not None else defaults.weight_decay),
        schedule=schedule or defaults.schedule,
        warmup_epochs=float(warmup_epochs),
        epochs=int(epochs if epochs is not None else defaults.epochs),
        batch_size=int(batch_size if batch_size is not None else defaults.batch_size),
        eval_batch_size=int(eval_batch_size),
        grad_clip=grad_clip,
        seed=int(seed),
        order_seed=int(seed if order_seed is None else order_seed),
        model_params=validate_model(model, data, model_params or {}),
        amp=amp,
        channels_last=bool(channels_last),
        compile=bool(compile),
    )
    _check_settings(settings)
    loss_fn = build_loss(loss, **settings.loss_params)  # raises on bad names and params
    target = resolve_device(device)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        devices = [target.index or 0] if target.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(settings.seed)
            net = build_model(model, data, **settings.model_params).to(target)
            return _train(
                data, net, loss_fn.to(target), settings, target, on_epoch, started, evaluate_test
            )
    finally:
        if threads is not None:
            torch.set_num_threads(previous_threads)


def _check_settings(s: _Settings) -> None:
    if s.amp is not None and s.amp not in AMP_DTYPES:
        raise ValueError(f"fit: amp must be None or one of {', '.join(AMP_DTYPES)}, got {s.amp!r}.")
    if s.optimizer not in OPTIMIZERS:
        build_optimizer(s.optimizer, [], 1.0, 0.0)  # raises with the allowed names
    if s.schedule not in SCHEDULES:
        lr_factor(s.schedule, 10, 10, 0)  # raises with the allowed names
    for name, value, low in (
        ("epochs", s.epochs, 1),
        ("batch_size", s.batch_size, 1),
        ("eval_batch_size", s.eval_batch_size, 1),
    ):
        if value < low:
            raise ValueError(f"fit: {name} must be at least {low}, got {value}.")
    if not (s.lr > 0 and math.isfinite(s.lr)):
        raise ValueError(f"fit: lr must be a positive number, got {s.lr}.")
    if s.weight_decay < 0 or s.warmup_epochs < 0:
        raise ValueError("fit: weight_decay and warmup_epochs must not be negative.")


def _train(
    data: TaskData,
    net: nn.Module,
    loss_fn: nn.Module,
    s: _Settings,
    device: torch.device,
    on_epoch: Callable[[EpochRecord], bool | None] | None,
    started: float,
    evaluate_test: bool = True,
) -> RunResult:
    run = _Training(data, net, loss_fn, s, device)
    curve: list[EpochRecord] = []
    state, reason = COMPLETE, None
    try:
        for epoch in range(1, s.epochs + 1):
            record = run.epoch(epoch)
            curve.append(record)
            logger.debug("epoch %s: %s", epoch, record)
            if on_epoch is not None and on_epoch(record):
                state = PRUNED
                break
    except _RunFailed as failure:
        state, reason = FAILED, str(failure)
        logger.warning("run failed: %s", reason)

    metrics = dict.fromkeys(METRIC_NAMES, math.nan)
    if state != FAILED and run.val_logits is not None:
        metrics |= run.final_metrics(evaluate_test)
        metrics[LOSS.val_column] = curve[-1].val_loss
    clock = run.clock
    return RunResult(
        state=state,
        failure_reason=reason,
        epochs_done=len(curve),
        metrics=metrics,
        curve=curve,
        train_throughput=_per_second(clock.train_samples, clock.train_seconds),
        eval_throughput=_per_second(clock.eval_samples, clock.eval_seconds),
        wall_time=time.perf_counter() - started,
        environment=environment(device),
        settings={"task": data.name, "task_options": data.plain_options(), **asdict(s)},
    )


def _per_second(samples: int, seconds: float) -> float:
    return samples / seconds if seconds > 0 else math.nan


@dataclass
class _Clock:
    """Samples and seconds of the timed training steps and evaluations (the throughputs)."""

    train_samples: int = 0
    train_seconds: float = 0.0
    eval_samples: int = 0
    eval_seconds: float = 0.0


class _StepLoss:
    """The training loss of one batch, through `torch.compile`d model and loss when asked;
    a compilation that fails falls back to eager for the rest of the run."""

    def __init__(
        self, net: nn.Module, loss_fn: nn.Module, compile: bool, autocast: Callable[[], Any]
    ) -> None:
        self.net, self.loss_fn, self.autocast = net, loss_fn, autocast
        self.stepping: tuple[Any, Any] = (net, loss_fn)
        if compile:
            self.stepping = (torch.compile(net), torch.compile(loss_fn, dynamic=False))

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        stepping_net, stepping_loss = self.stepping
        try:
            with self.autocast():
                return stepping_loss(stepping_net(xb), yb)
        except Exception as error:
            if stepping_net is self.net:
                raise
            logger.warning("torch.compile failed, training eagerly: %s", error)
            self.stepping = (self.net, self.loss_fn)
            with self.autocast():
                return self.loss_fn(self.net(xb), yb)


class _Training:
    """One run in progress: the data on the device, the model, its optimizer and schedule,
    the batch order and the clocks. `epoch` trains and validates one epoch."""

    def __init__(
        self, data: TaskData, net: nn.Module, loss_fn: nn.Module, s: _Settings, device: torch.device
    ) -> None:
        self.data, self.s, self.device = data, s, device
        self.x_train, self.y_train = data.train.x.to(device), data.train.y.to(device)
        self.x_val, self.y_val = data.val.x.to(device), data.val.y.to(device)
        self.autocast = _autocast(device, s.amp)
        if s.channels_last and self.x_train.dim() == 4:
            net = net.to(memory_format=torch.channels_last)
            self.x_train = self.x_train.contiguous(memory_format=torch.channels_last)
            self.x_val = self.x_val.contiguous(memory_format=torch.channels_last)
        self.net = net
        self.step_loss = _StepLoss(net, loss_fn, s.compile, self.autocast)
        self.n = len(self.y_train)
        self.batch = min(s.batch_size, self.n)
        self.steps = math.ceil(self.n / self.batch)
        if self.steps > 1 and self.n % self.batch == 1:
            self.steps -= 1  # a lone last example: BatchNorm cannot train on a batch of one
        self.samples_per_epoch = min(self.steps * self.batch, self.n)
        self.optimizer = build_optimizer(s.optimizer, net.parameters(), s.lr, s.weight_decay)
        total_steps = self.steps * s.epochs
        warmup_steps = round(s.warmup_epochs * self.steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(s.schedule, step, total_steps, warmup_steps)
        )
        # a finite-loss check costs a host sync: every step on CPU, every 16 steps on CUDA
        self.check_every = 1 if device.type == "cpu" else 16
        self.order = torch.Generator().manual_seed(s.order_seed)
        self.clock = _Clock()
        self.val_logits: torch.Tensor | None = None

    def epoch(self, epoch: int) -> EpochRecord:
        """Train one epoch, then validate; raises _RunFailed when a loss is not finite."""
        epoch_start = time.perf_counter()
        lr_now = self.optimizer.param_groups[0]["lr"]
        train_loss, timed_samples, seconds_train = self._train_steps(epoch)
        if not math.isfinite(train_loss):
            raise _RunFailed(f"training loss became {train_loss} in epoch {epoch}")
        self.clock.train_samples += timed_samples
        self.clock.train_seconds += seconds_train

        eval_start = time.perf_counter()
        with self.autocast():
            self.val_logits = predict(self.net, self.x_val, self.s.eval_batch_size).float()
        val_loss = F.cross_entropy(self.val_logits.float(), self.y_val).item()
        val_metrics = classification_metrics(
            self.val_logits, self.y_val, self.data.num_classes, VAL_PREFIX
        )
        self.clock.eval_seconds += time.perf_counter() - eval_start
        self.clock.eval_samples += len(self.y_val)
        if not math.isfinite(val_loss):
            raise _RunFailed(f"validation loss became {val_loss} after epoch {epoch}")
        return EpochRecord(
            epoch=epoch,
            train_loss=train_loss,
            val_loss=val_loss,
            lr=lr_now,
            seconds=time.perf_counter() - epoch_start,
            train_throughput=timed_samples / max(seconds_train, 1e-12),
            **val_metrics,
        )

    def _train_steps(self, epoch: int) -> tuple[float, int, float]:
        """The epoch's optimizer steps: (mean training loss, samples timed, seconds timed).
        The run's very first step is a warm-up and not timed."""
        net, optimizer, device = self.net, self.optimizer, self.device
        batch, steps = self.batch, self.steps
        net.train()
        permutation = torch.randperm(self.n, generator=self.order).to(device, non_blocking=True)
        loss_sum = torch.zeros((), device=device)
        timed_from, timed_samples = time.perf_counter(), self.samples_per_epoch
        for step in range(steps):
            index = permutation[step * batch : (step + 1) * batch]
            step_loss = self.step_loss(self.x_train[index], self.y_train[index])
            optimizer.zero_grad(set_to_none=True)
            step_loss.backward()
            if self.s.grad_clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), self.s.grad_clip)
            optimizer.step()
            self.scheduler.step()
            loss_sum += step_loss.detach() * len(index)
            if (step + 1) % self.check_every == 0 and not torch.isfinite(loss_sum):
                raise _RunFailed(
                    f"training loss became {step_loss.item()} at epoch {epoch}, step "
                    f"{step + 1} of {steps} (lr {optimizer.param_groups[0]['lr']:.3g})"
                )
            if epoch == 1 and step == 0 and steps > 1:  # the warm-up step is not timed
                _sync(device)
                timed_from = time.perf_counter()
                timed_samples = self.samples_per_epoch - len(index)
        train_loss = loss_sum.item() / self.samples_per_epoch
        _sync(device)
        return train_loss, timed_samples, time.perf_counter() - timed_from

    def final_metrics(self, evaluate_test: bool) -> dict[str, float]:
        """The last epoch's validation metrics, and the test split's when `evaluate_test`."""
        assert self.val_logits is not None
        metrics = classification_metrics(
            self.val_logits, self.y_val, self.data.num_classes, VAL_PREFIX
        )
        if evaluate_test:
            test = self.data.test
            eval_start = time.perf_counter()
            x_test = test.x.to(self.device)
            if self.s.channels_last and x_test.dim() == 4:
                x_test = x_test.contiguous(memory_format=torch.channels_last)
            with self.autocast():
                test_logits = predict(self.net, x_test, self.s.eval_batch_size).float()
            _sync(self.device)
            self.clock.eval_seconds += time.perf_counter() - eval_start
            self.clock.eval_samples += len(test)
            metrics |= classification_metrics(
                test_logits, test.y, self.data.num_classes, TEST_PREFIX
            )
        return metrics
