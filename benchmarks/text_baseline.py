"""The default text model against a linear baseline, on the same split, in the same process.

The reference is the strong linear text classifier: TF-IDF of character 1-3-grams (sublinear
term frequency) and an L2-regularized logistic regression (scikit-learn), its C chosen on the
validation split from a small grid. polybench's default text model for the task (with the task's
default training settings) trains with `fit` on the same train / validation / test split
(`polybench.tasks.load_raw_splits` gives the baseline the very texts `load_task` encodes).
Prints test accuracy, the wall time and the CPU time of each (CPU time: user + system of this
process, all threads; on a busy shared machine it bounds what the wall time would be on an idle
one with as many cores as threads, where wall time <= CPU time), and the model's accuracy minus
the baseline's.

    .venv/bin/python benchmarks/text_baseline.py [--task review_sentiment_zh] [--seeds 3]
        [--threads 2] [--data-seed 0] [--model fasttext]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from polybench.tasks import get_task_spec, load_raw_splits, load_task
from polybench.train import fit

GRID_C = (1.0, 4.0, 10.0)


def tfidf_logistic_regression(raw) -> dict[str, float]:
    """Char 1-3-gram TF-IDF + logistic regression; C picked on validation accuracy."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    def texts(split: str) -> list[str]:
        examples = raw[split][0]
        return [e if isinstance(e, str) else f"{e[0]}\t{e[1]}" for e in examples]

    start, cpu_start = time.perf_counter(), time.process_time()
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    x_train = vectorizer.fit_transform(texts("train"))
    x_val, x_test = vectorizer.transform(texts("val")), vectorizer.transform(texts("test"))
    best = None
    for c in GRID_C:
        model = LogisticRegression(C=c, max_iter=2000)
        model.fit(x_train, raw["train"][1])
        val = float((model.predict(x_val) == raw["val"][1]).mean())
        if best is None or val > best[0]:
            best = (val, c, float((model.predict(x_test) == raw["test"][1]).mean()))
    assert best is not None
    return {
        "val_accuracy": best[0],
        "test_accuracy": best[2],
        "C": best[1],
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "features": x_train.shape[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="review_sentiment_zh")
    parser.add_argument("--model", default=None, help="default: the task's default model")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds of the model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = get_task_spec(args.task)
    model = args.model or spec.defaults.model
    print(f"task {args.task}, data_seed {args.data_seed}, {args.threads} threads", flush=True)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)

    start = time.perf_counter()
    task = load_task(args.task, data_seed=args.data_seed)
    load_seconds = time.perf_counter() - start
    print(task.describe(), f"(loaded in {load_seconds:.1f} s)", flush=True)
    raw = load_raw_splits(args.task, data_seed=args.data_seed)
    assert np.array_equal(raw["test"][1], task.test.y.numpy()), "the two see the same split"

    baseline = tfidf_logistic_regression(raw)
    print(
        f"TF-IDF char 1-3 + logistic regression (C={baseline['C']:g}, "
        f"{baseline['features']:,} features): val {baseline['val_accuracy']:.4f}, "
        f"test {baseline['test_accuracy']:.4f}, {baseline['seconds']:.1f} s "
        f"({baseline['cpu_seconds']:.1f} s CPU)",
        flush=True,
    )

    results, cpu = [], []
    for seed in range(args.seeds):
        cpu_start = time.process_time()
        run = fit(task, model, "cross_entropy", seed=seed, device="cpu", threads=args.threads)
        cpu.append(time.process_time() - cpu_start)
        results.append(run)
        print(
            f"{model} seed {seed}: val {run.metrics['val_accuracy']:.4f}, "
            f"test {run.metrics['test_accuracy']:.4f}, {run.wall_time:.1f} s "
            f"({cpu[-1]:.1f} s CPU, {run.epochs_done} epochs)",
            flush=True,
        )
    tests = [r.metrics["test_accuracy"] for r in results]
    seconds = [r.wall_time for r in results]
    print(
        f"\n{model} ({spec.defaults.epochs} epochs, batch {spec.defaults.batch_size}, lr "
        f"{spec.defaults.lr:g}): test accuracy median {statistics.median(tests):.4f} "
        f"(min {min(tests):.4f}, max {max(tests):.4f}) over {len(tests)} seeds, "
        f"median {statistics.median(seconds):.1f} s per run ({statistics.median(cpu):.1f} s CPU)"
    )
    print(f"TF-IDF + logistic regression: test accuracy {baseline['test_accuracy']:.4f}")
    print(f"model - baseline: {statistics.median(tests) - baseline['test_accuracy']:+.4f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
