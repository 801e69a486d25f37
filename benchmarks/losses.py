"""Forward + backward cost of every polybench loss against its natural peer, in one process.

Peers: the softmax family against `torch.nn.functional.cross_entropy`; the sigmoid family against
`torchvision.ops.sigmoid_focal_loss` (summed over classes, the same value); and, as the naive
baseline, a timm-style Poly-1 cross-entropy that builds a dense one-hot for every batch. Two more
rows time the bare torch ops that Poly-1's and focal's short paths run, without polybench
around them: no eager implementation made of those ops can beat them. All
candidates run once per repetition, interleaved in a fresh random order, so machine load hits them
alike; the table shows median times and the median of the per-repetition ratios.

    .venv/bin/python benchmarks/losses.py          # 64 x 10 (1 thread), then 4096 x 1000, CPU
    .venv/bin/python benchmarks/losses.py --batch 256 --classes 100 --repeats 50 --device cuda
    .venv/bin/python benchmarks/losses.py --device cuda --compile   # the fused CUDA path

The default run has two cases. 64 x 10 on one thread is the batch polybench's own tasks train
with, where the cost is per call (dispatch, autograd bookkeeping), not per element; 4096 x 1000 on
torch's default threads is where the arithmetic dominates.

With the compiled CPU kernel built (`polybench kernels --build`, part of `make setup`), Poly-1,
Poly-N, focal and Poly-1 focal run it for small CPU inputs, and three more rows time Poly-1, focal
and Poly-1 focal on their eager torch ops, as they run without the kernel.

Targets: at 64 x 10, cross_entropy <= 1.1x and poly1_cross_entropy, focal <= 1.5x
F.cross_entropy; at 4096 x 1000, poly1_cross_entropy <= 1.15x (docs/losses.md).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision

from polybench.losses import LOSSES, _native, build_loss

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def naive_poly1_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """timm-style Poly-1: a dense one-hot and a second softmax for every batch."""
    one_hot = torch.zeros_like(logits).scatter_(1, target.unsqueeze(1), 1.0)
    pt = (one_hot * logits.softmax(dim=1)).sum(dim=1)
    ce = F.cross_entropy(logits, target, reduction="none")
    return (ce + 1.0 * (1.0 - pt)).mean()


def bare_poly1(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The torch ops of Poly-1's short path (eps = 1) with no polybench code around them: the
    floor for any eager implementation built from them."""
    log_p = torch.log_softmax(logits, 1)
    return F.nll_loss(torch.add(log_p, F.elu(log_p, 1.0)), target)


def bare_focal(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The torch ops of focal's short path (gamma = 2), likewise."""
    log_p = torch.log_softmax(logits, 1)
    p_minus_one = F.elu(log_p, 1.0)
    return F.nll_loss(p_minus_one * p_minus_one * log_p, target)


def torchvision_sigmoid_focal(logits: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
    """torchvision's sigmoid focal loss, summed over classes and averaged over samples."""
    loss = torchvision.ops.sigmoid_focal_loss(logits, one_hot, alpha=0.25, gamma=2.0)
    return loss.sum() / logits.shape[0]


COMPILED = ("cross_entropy", "poly1_cross_entropy", "focal")
# Losses the compiled CPU kernel (`polybench kernels`) computes at small sizes; with it built,
# each also gets a row on its eager path.
EAGER_TWINS = ("poly1_cross_entropy", "focal", "poly1_focal")


def eager(loss: LossFn) -> LossFn:
    """`loss` on its eager ops, compiled kernel built or not."""

    def run(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        before = _native.force_eager(True)  # what `eager_only()` does, without its own cost
        try:
            return loss(logits, target)
        finally:
            _native.force_eager(before)

    return run


def candidates(compiled: bool = False) -> dict[str, tuple[LossFn, str, str]]:
    """name -> (function, target kind 'index' | 'onehot', peer name); with `compiled`, also
    `torch.compile`d forms of `COMPILED` (the CUDA path) against `F.cross_entropy`."""
    table: dict[str, tuple[LossFn, str, str]] = {
        "F.cross_entropy": (F.cross_entropy, "index", ""),
        "torchvision sigmoid_focal": (torchvision_sigmoid_focal, "onehot", ""),
        "naive one-hot poly1 (timm-style)": (
            naive_poly1_cross_entropy,
            "index",
            "F.cross_entropy",
        ),
        "bare torch ops of Poly-1 (floor)": (bare_poly1, "index", "F.cross_entropy"),
        "bare torch ops of focal (floor)": (bare_focal, "index", "F.cross_entropy"),
    }
    for name, cls in LOSSES.items():
        sigmoid = "sigmoid" in name
        table[name] = (
            build_loss(name),
            "onehot" if sigmoid else "index",
            "torchvision sigmoid_focal" if sigmoid else "F.cross_entropy",
        )
        del cls
    if _native.module() is not None:  # the same losses without the compiled kernel
        for name in EAGER_TWINS:
            table[f"{name} (eager ops)"] = (eager(build_loss(name)), "index", "F.cross_entropy")
    if compiled:
        from polybench.losses._compiled import compiled_loss

        for name in COMPILED:
            table[f"{name} (compiled)"] = (compiled_loss(name), "index", "F.cross_entropy")
    return table


def run(
    batch: int,
    classes: int,
    repeats: int,
    warmup: int,
    device: str,
    dtype: torch.dtype,
    seed: int,
    compiled: bool = False,
) -> dict[str, list[float]]:
    """Seconds per forward + backward for every candidate, `repeats` interleaved rounds."""
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(batch, classes, generator=generator) * 3).to(device=device, dtype=dtype)
    index = torch.randint(0, classes, (batch,), generator=generator).to(device)
    one_hot = F.one_hot(index, classes).to(dtype)
    targets = {"index": index, "onehot": one_hot}
    table = candidates(compiled)
    leaf = logits.clone().requires_grad_(True)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in table}
    order = list(table)
    shuffler = random.Random(seed)
    for round_ in range(warmup + repeats):
        shuffler.shuffle(order)
        for name in order:
            fn, kind, _ = table[name]
            leaf.grad = None
            sync()
            start = time.perf_counter()
            fn(leaf, targets[kind]).backward()
            sync()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def report(times: dict[str, list[float]]) -> str:
    """A text table: median ms, peer, median per-round ratio to the peer."""
    table = candidates(any(name.endswith("(compiled)") for name in times))
    lines = [f"{'loss':34s} {'median ms':>10s}  {'peer':26s} {'peer ms':>8s} {'ratio':>6s}"]
    for name, (_, _, peer) in table.items():
        median = statistics.median(times[name]) * 1e3
        if peer:
            ratios = [a / b for a, b in zip(times[name], times[peer], strict=True)]
            peer_ms = statistics.median(times[peer]) * 1e3
            lines.append(
                f"{name:34s} {median:10.3f}  {peer:26s} {peer_ms:8.3f} "
                f"{statistics.median(ratios):5.2f}x"
            )
        else:
            lines.append(f"{name:34s} {median:10.3f}  {'(peer)':26s}")
    return "\n".join(lines)


# (batch, classes, threads, repeats) of the default run; threads None is torch's default.
DEFAULT_CASES = ((64, 10, 1, 300), (4096, 1000, None, 20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=None, help="with --classes: one case only")
    parser.add_argument("--classes", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None, help="default 300 small, 20 large")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--compile", action="store_true", help="add torch.compile'd losses (the CUDA path)"
    )
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    if args.batch is None and args.classes is None:
        cases = [
            (batch, classes, args.threads or threads, args.repeats or repeats)
            for batch, classes, threads, repeats in DEFAULT_CASES
        ]
    else:
        batch, classes = args.batch or 4096, args.classes or 1000
        repeats = args.repeats or (300 if batch * classes <= 65536 else 20)
        cases = [(batch, classes, args.threads, repeats)]
    for index, (batch, classes, threads, repeats) in enumerate(cases):
        torch.set_num_threads(threads or default_threads)
        times = run(
            batch,
            classes,
            repeats,
            args.warmup,
            args.device,
            getattr(torch, args.dtype),
            args.seed,
            args.compile,
        )
        print(
            ("\n" if index else "")
            + f"forward+backward, batch {batch} x {classes} classes, {args.dtype}, "
            f"device {args.device}, {repeats} interleaved repeats, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
        )
        kernel = "in use" if _native.module() is not None else "not in use (polybench kernels)"
        print(f"compiled CPU kernel of the softmax losses' small batches: {kernel}")
        print(report(times))


if __name__ == "__main__":
    main()
