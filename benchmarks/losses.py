"""Forward + backward cost of every polybench loss against its natural peer, in one process.

Peers: the softmax family against `torch.nn.functional.cross_entropy`; the sigmoid family against
`torchvision.ops.sigmoid_focal_loss` (summed over classes, the same value); and, as the naive
baseline, a timm-style Poly-1 cross-entropy that builds a dense one-hot for every batch. All
candidates run once per repetition, interleaved in a fresh random order, so machine load hits them
alike; the table shows median times and the median of the per-repetition ratios.

    .venv/bin/python benchmarks/losses.py                       # 4096 x 1000 on CPU
    .venv/bin/python benchmarks/losses.py --batch 256 --classes 100 --repeats 50 --device cuda

Target (LOSSES.md): poly1_cross_entropy <= 1.15x F.cross_entropy on CPU at 4096 x 1000.
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

from polybench.losses import LOSSES, build_loss

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def naive_poly1_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """timm-style Poly-1: a dense one-hot and a second softmax for every batch."""
    one_hot = torch.zeros_like(logits).scatter_(1, target.unsqueeze(1), 1.0)
    pt = (one_hot * logits.softmax(dim=1)).sum(dim=1)
    ce = F.cross_entropy(logits, target, reduction="none")
    return (ce + 1.0 * (1.0 - pt)).mean()


def torchvision_sigmoid_focal(logits: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
    """torchvision's sigmoid focal loss, summed over classes and averaged over samples."""
    loss = torchvision.ops.sigmoid_focal_loss(logits, one_hot, alpha=0.25, gamma=2.0)
    return loss.sum() / logits.shape[0]


def candidates() -> dict[str, tuple[LossFn, str, str]]:
    """name -> (function, target kind 'index' | 'onehot', peer name)."""
    table: dict[str, tuple[LossFn, str, str]] = {
        "F.cross_entropy": (F.cross_entropy, "index", ""),
        "torchvision sigmoid_focal": (torchvision_sigmoid_focal, "onehot", ""),
        "naive one-hot poly1 (timm-style)": (
            naive_poly1_cross_entropy,
            "index",
            "F.cross_entropy",
        ),
    }
    for name, cls in LOSSES.items():
        sigmoid = "sigmoid" in name
        table[name] = (
            build_loss(name),
            "onehot" if sigmoid else "index",
            "torchvision sigmoid_focal" if sigmoid else "F.cross_entropy",
        )
        del cls
    return table


def run(
    batch: int, classes: int, repeats: int, warmup: int, device: str, dtype: torch.dtype, seed: int
) -> dict[str, list[float]]:
    """Seconds per forward + backward for every candidate, `repeats` interleaved rounds."""
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(batch, classes, generator=generator) * 3).to(device=device, dtype=dtype)
    index = torch.randint(0, classes, (batch,), generator=generator).to(device)
    one_hot = F.one_hot(index, classes).to(dtype)
    targets = {"index": index, "onehot": one_hot}
    table = candidates()
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
    table = candidates()
    lines = [f"{'loss':34s} {'median ms':>10s}  {'peer':26s} {'peer ms':>8s} {'ratio':>6s}"]
    for name, (_, _, peer) in table.items():
        median = statistics.median(times[name]) * 1e3
        if peer:
            ratios = [a / b for a, b in zip(times[name], times[peer], strict=True)]
            peer_ms = statistics.median(times[peer]) * 1e3
            lines.append(
                f"{name:34s} {median:10.2f}  {peer:26s} {peer_ms:8.2f} "
                f"{statistics.median(ratios):5.2f}x"
            )
        else:
            lines.append(f"{name:34s} {median:10.2f}  {'(peer)':26s}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    times = run(
        args.batch,
        args.classes,
        args.repeats,
        args.warmup,
        args.device,
        getattr(torch, args.dtype),
        args.seed,
    )
    print(
        f"forward+backward, batch {args.batch} x {args.classes} classes, {args.dtype}, "
        f"device {args.device}, {args.repeats} interleaved repeats, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    )
    print(report(times))


if __name__ == "__main__":
    main()
