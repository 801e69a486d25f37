"""fit's training throughput against a minimal hand-written loop, same process.

Same task, model, data (tensors on the device), batch size, optimizer and loss; the hand loop is
the least code that trains: shuffle, index, forward, cross-entropy, backward, step. Both skip one
warm-up step. The ratio fit / hand loop must be at least 0.95 (fit adds the schedule, a
finite-loss check and the loss sum). Prints the median ratio over alternating repeats.

    .venv/bin/python benchmarks/train.py [--repeats 5] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from polybench.models import build_model
from polybench.tasks import load_task
from polybench.train import fit, resolve_device


def hand_loop(task, model_name: str, batch_size: int, epochs: int, lr: float, device) -> float:
    """Samples/s of the simplest training loop (first step excluded as warm-up)."""
    torch.manual_seed(0)
    model = build_model(model_name, task).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    x, y = task.train.x.to(device), task.train.y.to(device)
    n = len(y)
    samples, start = 0, None
    model.train()
    for _ in range(epochs):
        permutation = torch.randperm(n).to(device)
        for i in range(0, n - 1, batch_size):
            index = permutation[i : i + batch_size]
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if start is None:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
            else:
                samples += len(index)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    cases = [
        ("mnist5k", "small_cnn", {}, 64, 1),
        ("review_sentiment_zh", "textcnn", {"subsample": 0.2}, 64, 1),
    ]
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for task_name, model_name, options, batch_size, epochs in cases:
        task = load_task(task_name, **options)
        ratios, ours, theirs = [], [], []
        for _ in range(args.repeats):
            peer = hand_loop(task, model_name, batch_size, epochs, 1e-3, device)
            result = fit(
                task,
                model_name,
                "cross_entropy",
                epochs=epochs,
                batch_size=batch_size,
                lr=1e-3,
                optimizer="adamw",
                schedule="constant",
                device=str(device),
            )
            theirs.append(peer)
            ours.append(result.train_throughput)
            ratios.append(result.train_throughput / peer)
        print(
            f"{task_name:>20} / {model_name:<9} batch {batch_size}: fit "
            f"{statistics.median(ours):9,.0f} samples/s, hand loop "
            f"{statistics.median(theirs):9,.0f} samples/s, median ratio "
            f"{statistics.median(ratios):.3f} (target >= 0.95; all: "
            f"{', '.join(f'{r:.3f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
