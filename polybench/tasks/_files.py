"""Text tasks read from local files: CLUE's AFQMC and any CSV / TSV / JSON-lines file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from polybench.settings import Option
from polybench.tasks._data import RawPart, Source, TrainDefaults
from polybench.tasks._registry import TaskSpec, register

FORMATS = ("auto", "csv", "tsv", "jsonl")


def _file_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".json", ".ndjson"}:
        return "jsonl"
    if suffix in {".tsv", ".tab"}:
        return "tsv"
    if suffix == ".csv":
        return "csv"
    raise ValueError(
        f"cannot tell the format of {path} from its suffix {suffix!r}; set the task option "
        f"format to one of {', '.join(FORMATS[1:])}."
    )


def read_records(path: Path, file_format: str = "auto") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each record of a CSV / TSV (header row) or JSON-lines file."""
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist.")
    kind = _file_format(path, file_format)
    with open(path, encoding="utf-8", newline="") as handle:
        if kind == "jsonl":
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not valid JSON ({error.msg}).") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object per line.")
                yield number, record
        else:
            reader = csv.DictReader(handle, delimiter="," if kind == "csv" else "\t")
            for record in reader:
                yield reader.line_num, record


def _field(path: Path, number: int, record: Mapping[str, Any], key: str) -> Any:
    if key not in record or record[key] is None:
        raise ValueError(
            f"{path}:{number}: no field {key!r}; the record has {', '.join(map(str, record))}."
        )
    return record[key]


def _class_names(labels: list[Any]) -> tuple[str, ...]:
    """Sorted distinct labels as names: numerically when every label is an integer."""
    names = {str(label).strip() for label in labels}
    try:
        return tuple(str(v) for v in sorted({int(n) for n in names}))
    except ValueError:
        return tuple(sorted(names))


def read_text_parts(
    files: Mapping[str, Path],
    text_column: str,
    pair_column: str | None,
    label_column: str,
    file_format: str = "auto",
) -> Source:
    """Texts (or pairs) and labels of each part's file; class names from all parts."""
    raw: dict[str, tuple[list, list]] = {}
    for part, path in files.items():
        examples, labels = [], []
        for number, record in read_records(path, file_format):
            text = str(_field(path, number, record, text_column))
            if pair_column is not None:
                text = (text, str(_field(path, number, record, pair_column)))
            examples.append(text)
            labels.append(_field(path, number, record, label_column))
        if not examples:
            raise ValueError(f"data file {path} holds no records.")
        raw[part] = (examples, labels)
    class_names = _class_names([label for _, labels in raw.values() for label in labels])
    index = {name: i for i, name in enumerate(class_names)}
    parts = {}
    for part, (examples, labels) in raw.items():
        ids = np.asarray([index[str(label).strip()] for label in labels], dtype=np.int64)
        parts[part] = RawPart(examples, ids)
    return Source(kind="text", class_names=class_names, parts=parts)


def read_afqmc(options: Mapping[str, Any]) -> Source:
    """CLUE's AFQMC: `train.json` and `dev.json` (JSON lines with sentence1, sentence2, label).

    The public test file has no labels, so `dev.json` is the test part and validation is split
    off `train.json` (stratified, `val_fraction`)."""
    root = options["root"]
    for name in ("train.json", "dev.json"):
        if not (root / name).is_file():
            raise FileNotFoundError(
                f"task 'afqmc': {root / name} does not exist. Unzip CLUE's afqmc_public.zip so "
                f"that train.json and dev.json are in {root}, or set the task option root=<folder> "
                "(studies/afqmc.yaml says where to get them)."
            )
    source = read_text_parts(
        {"train": root / "train.json", "test": root / "dev.json"},
        "sentence1",
        "sentence2",
        "label",
        "jsonl",
    )
    if source.class_names != ("0", "1"):
        raise ValueError(f"task 'afqmc': labels in {root} are {source.class_names}, not 0 / 1.")
    return Source(kind="text", class_names=("different", "same"), parts=source.parts)


def read_text_file(options: Mapping[str, Any]) -> Source:
    """Any CSV / TSV / JSON-lines file with a text column (two for pairs) and a label column;
    `test_path` and `val_path` are optional official parts."""
    files = {"all": options["path"]}
    if options["test_path"] is not None:
        files = {"train": options["path"], "test": options["test_path"]}
        if options["val_path"] is not None:
            files["val"] = options["val_path"]
    elif options["val_path"] is not None:
        raise ValueError("task 'text_file': val_path needs test_path as well.")
    return read_text_parts(
        files,
        options["text_column"],
        options["text_pair_column"],
        options["label_column"],
        options["format"],
    )


register(
    TaskSpec(
        name="afqmc",
        kind="text",
        summary="CLUE AFQMC sentence-pair matching (Chinese, 2 classes); test = public dev",
        read=read_afqmc,
        defaults=TrainDefaults("textcnn", 5, 64, 1e-3),
        options=(Option("root", Path, Path("data/afqmc"), "folder with train.json and dev.json"),),
        official_split=True,
        text_defaults={"max_length": 96, "min_freq": 2},
    )
)
register(
    TaskSpec(
        name="text_file",
        kind="text",
        summary="any CSV / TSV / JSON-lines file with text and label columns",
        read=read_text_file,
        defaults=TrainDefaults("textcnn", 5, 64, 1e-3),
        options=(
            Option(
                "path",
                Path,
                None,
                "the data file (all data, or train with test_path)",
                required=True,
            ),
            Option("test_path", Path, None, "optional file of the test part"),
            Option("val_path", Path, None, "optional file of the validation part"),
            Option("text_column", str, "text", "column (key) holding the text"),
            Option("text_pair_column", str, None, "second text column, for sentence pairs"),
            Option("label_column", str, "label", "column (key) holding the label"),
            Option("format", str, "auto", "file format (auto: from the suffix)", choices=FORMATS),
        ),
    )
)
