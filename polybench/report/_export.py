"""Runs and epochs to files: CSV, Parquet, Excel or JSON lines, chosen by the file's extension.

- `runs.csv`, `runs.parquet`, `runs.jsonl`: the runs go to the named file and the epochs to a
  sibling with an `_epochs` suffix (`runs_epochs.csv`, ...), one table per file as these formats
  expect.
- `runs.xlsx`: one workbook with the sheets `runs` and `epochs`. Excel has no time zones, so the
  times are written as UTC without a zone, rounded to the millisecond; it keeps 15 significant
  digits of a number. The other formats keep every value exactly.

The columns are the store's (`polybench.db.RUN_COLUMNS` and the `param_<name>` columns,
`polybench.db.EPOCH_COLUMNS`); `read_export` reads a file back with the same dtypes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from polybench.report._frames import Filter, epochs, runs
from polybench.vocab import PARAM_PREFIX

EXPORT_FORMATS: dict[str, str] = {
    ".csv": "CSV",
    ".parquet": "Parquet",
    ".xlsx": "Excel",
    ".jsonl": "JSON lines",
    ".ndjson": "JSON lines",
}
EXCEL_MAX_ROWS = 1_048_575  # one row of the sheet holds the header
TIME = "datetime64[ns, UTC]"


def export_format(path: str | Path) -> str:
    """The extension of `path` if polybench can export to it; ValueError naming the allowed."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        allowed = ", ".join(f"{ext} ({name})" for ext, name in EXPORT_FORMATS.items())
        raise ValueError(
            f"cannot export to {str(path)!r}: unknown extension {suffix or '(none)'!r}; "
            f"expected one of {allowed}"
        )
    return suffix


def epochs_path(path: str | Path) -> Path:
    """Where the epochs go next to a one-table-per-file export: `runs.csv` -> `runs_epochs.csv`."""
    path = Path(path)
    return path.with_name(f"{path.stem}_epochs{path.suffix}")


def check_output(paths: list[Path], *, force: bool = False) -> None:
    """ValueError (one line) unless every file of `paths` may be written: its folder exists
    (polybench creates no folders) and, without `force`, the file does not exist yet."""
    for path in paths:
        folder = path.parent
        if not folder.is_dir():
            raise ValueError(
                f"cannot write {str(path)!r}: the folder {str(folder)!r} does not exist; "
                "create it first (polybench creates no folders)"
            )
    existing = [str(path) for path in paths if path.exists()]
    if existing and not force:
        raise ValueError(
            f"cannot write {existing[0]!r}: {' and '.join(map(repr, existing))} already "
            f"exist{'s' if len(existing) == 1 else ''}; pass --force to overwrite"
        )


def output_paths(to: str | Path) -> list[Path]:
    """The files an export to `to` writes: one Excel workbook, else runs and epochs files."""
    path = Path(to)
    return [path] if export_format(path) == ".xlsx" else [path, epochs_path(path)]


def export(
    storage: str | None,
    study: str,
    to: str | Path,
    task: Filter = None,
    loss: Filter = None,
    phase: Filter = None,
    state: Filter = None,
    *,
    force: bool = False,
) -> list[Path]:
    """Write the study's runs and epochs to `to` (format by extension); returns the files written.

    Existing files are kept unless `force`; the folder must exist. ValueError says which file.

    >>> export("sqlite:///polybench.db", "quickstart", "runs.parquet")  # doctest: +SKIP
    [PosixPath('runs.parquet'), PosixPath('runs_epochs.parquet')]
    """
    check_output(output_paths(to), force=force)
    selected = runs(storage, study, task=task, loss=loss, phase=phase, state=state)
    curves = epochs(storage, study, task=task, loss=loss, phase=phase, state=state)
    try:
        return write_export(selected, curves, to)
    except OSError as error:
        raise ValueError(
            f"cannot write {str(error.filename or to)!r}: {error.strerror or error}; "
            "choose a file in a folder you can write to"
        ) from None


def write_export(
    runs_frame: pd.DataFrame, epochs_frame: pd.DataFrame, to: str | Path
) -> list[Path]:
    """Write a runs frame and an epochs frame to `to` in the format its extension names."""
    suffix = export_format(to)
    path = Path(to)
    if suffix == ".xlsx":
        for name, frame in (("runs", runs_frame), ("epochs", epochs_frame)):
            if len(frame) > EXCEL_MAX_ROWS:
                raise ValueError(
                    f"cannot export to {str(path)!r}: {len(frame):,} {name} rows exceed Excel's "
                    f"{EXCEL_MAX_ROWS:,}; export to .parquet or .csv instead"
                )
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            _naive_utc(runs_frame).to_excel(writer, sheet_name="runs", index=False)
            _naive_utc(epochs_frame).to_excel(writer, sheet_name="epochs", index=False)
        return [path]
    written = [path, epochs_path(path)]
    for frame, target in zip((runs_frame, epochs_frame), written, strict=True):
        if suffix == ".csv":
            frame.to_csv(target, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(target, index=False)
        else:
            _write_json_lines(frame, target)
    return written


def _naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            naive = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
            frame[column] = naive.dt.round("ms")  # Excel keeps times to the millisecond
    return frame


def _write_json_lines(frame: pd.DataFrame, path: Path) -> None:
    """One JSON object per row; floats written exactly, missing values as null, times as ISO."""

    def plain(value: object) -> object:
        if value is None or value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if isinstance(value, float) and math.isnan(value):
            return None
        return value.item() if hasattr(value, "item") else value

    with path.open("w", encoding="utf-8") as file:
        for record in frame.astype(object).itertuples(index=False, name=None):
            values = {c: plain(v) for c, v in zip(frame.columns, record, strict=True)}
            file.write(json.dumps(values, ensure_ascii=False, allow_nan=False) + "\n")


def read_export(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read an export back as (runs, epochs) with the store's dtypes (times in UTC)."""
    from polybench.db import EPOCH_COLUMNS, RUN_COLUMNS

    suffix = export_format(path)
    path = Path(path)
    if suffix == ".xlsx":
        raw = tuple(
            pd.read_excel(path, sheet_name=sheet, engine="openpyxl", dtype=_text_columns(schema))
            for sheet, schema in (("runs", RUN_COLUMNS), ("epochs", EPOCH_COLUMNS))
        )
    else:
        raw = (
            _read_one(path, suffix, RUN_COLUMNS),
            _read_one(epochs_path(path), suffix, EPOCH_COLUMNS),
        )
    return _conform(raw[0], RUN_COLUMNS), _conform(raw[1], EPOCH_COLUMNS)


def _read_one(path: Path, suffix: str, schema: dict[str, str]) -> pd.DataFrame:
    if suffix == ".csv":
        # "NA" or "nan" in a text column is text; only empty cells are missing
        text = {column: str for column, dtype in schema.items() if dtype == "object"}
        return pd.read_csv(path, dtype=text, keep_default_na=False, na_values=[""])
    if suffix == ".parquet":
        return pd.read_parquet(path)
    with path.open(encoding="utf-8") as file:
        return pd.DataFrame.from_records([json.loads(line) for line in file if line.strip()])


def _text_columns(schema: dict[str, str]) -> dict[str, type]:
    """Read text columns as text: a commit hash of digits or a version like 2.5 is not a number."""
    return {column: str for column, dtype in schema.items() if dtype == "object"}


def _conform(frame: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """`frame` with the schema's dtypes: text as object (None for missing), times as UTC."""
    data = {}
    for column in schema:
        if column not in frame:
            data[column] = pd.Series([], dtype=object).reindex(frame.index)
    out = frame.assign(**data) if data else frame.copy()
    params = sorted(c for c in out.columns if c.startswith(PARAM_PREFIX))
    out = out[[*schema, *params]]
    for column, dtype in [*schema.items(), *((p, "float64") for p in params)]:
        series = out[column]
        if dtype == TIME:
            out[column] = pd.to_datetime(series, utc=True, format="ISO8601").astype(TIME)
        elif dtype == "object":
            as_object = series.astype(object)
            out[column] = as_object.where(series.notna(), None)
        else:
            out[column] = series.astype(dtype)
    return out.reset_index(drop=True)
