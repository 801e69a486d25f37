"""Reading a study file: size limits, a YAML loader that remembers each key's line, plug-ins
imported before validation, and pydantic's errors turned into one line each."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from polybench.config._checks import _semantic_problems, _unknown
from polybench.config._schema import (
    MAX_STUDY_BYTES,
    MAX_YAML_NODES,
    ConfigError,
    Problem,
    StudyConfig,
    _allowed_keys,
    _key_path,
)

# --------------------------------------------------------------------------------------------
# Loading


def load_study(path: str | Path) -> StudyConfig:
    """Read and validate a study file. Raises `ConfigError` listing every problem found."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_STUDY_BYTES + 1)
    except FileNotFoundError:
        message = "no such file."
        from polybench.studies import example_studies

        with contextlib.suppress(FileNotFoundError):
            if path.stem in example_studies():
                message += f" `polybench init {path.stem}` writes the example study {path.name}."
        raise ConfigError(path, [Problem(key="", message=message)]) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(path, [Problem(key="", message=f"cannot read: {reason}.")]) from None
    return parse_study(_decode(data, path), source=str(path))


def _decode(data: bytes, source: str | Path | None) -> str:
    """The UTF-8 text of a study file, or one line naming the first bad byte's offset."""
    if len(data) > MAX_STUDY_BYTES:
        raise ConfigError(source, [Problem(key="", message=_too_big())])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start : error.start + 1].hex()
        message = (
            f"is not UTF-8 text: byte 0x{bad} at offset {error.start} ({error.reason}); "
            "save the study file as UTF-8."
        )
        raise ConfigError(source, [Problem(key="", message=message, line=line)]) from None


def _too_big() -> str:
    return (
        f"is larger than {MAX_STUDY_BYTES:,} bytes, the limit for a study file; a study "
        "lists tasks, losses and ranges, which fit in a few kilobytes."
    )


def parse_study(text: str, source: str | None = None) -> StudyConfig:
    """Validate the YAML `text` of a study file; `source` names it in errors."""
    if len(text) > MAX_STUDY_BYTES:
        raise ConfigError(source, [Problem(key="", message=_too_big())])
    data, lines = _read_yaml(text, source)

    def line_of(loc: Sequence[str | int]) -> int | None:
        for end in range(len(loc), -1, -1):
            if tuple(loc[:end]) in lines:
                return lines[tuple(loc[:end])]
        return None

    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise ConfigError(
            source, [Problem(key="", message=f"expected a mapping of keys, got {got}.", line=1)]
        )
    data, plugin_problems = _load_plugins(data, source)
    if plugin_problems:
        raise ConfigError(
            source,
            [
                Problem(key=_key_path(loc), message=m, line=line_of(loc))
                for loc, m in plugin_problems
            ],
        )
    try:
        config = StudyConfig.model_validate(data)
    except ValidationError as error:
        problems = [_from_pydantic(item, line_of) for item in error.errors()]
        raise ConfigError(source, problems) from None
    problems = [
        Problem(key=_key_path(loc), message=message, line=line_of(loc))
        for loc, message in _semantic_problems(config)
    ]
    if problems:
        raise ConfigError(source, problems)
    config._source = source
    config._text = text
    return config


def _load_plugins(
    data: dict[str, Any], source: str | None
) -> tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]:
    """Import the study's `plugins` and resolve `module:Name` references of losses, tasks and
    models to registered names; return the study with plain names and the problems found.

    Every process that parses the study (workers, status, report) runs this, so all of them
    know the same plug-ins. Relative plug-in paths are taken from the study file's folder.
    """
    from polybench.plugins import PluginError, import_plugin, load_entry_points, resolve_reference

    load_entry_points()
    found: list[tuple[tuple[str | int, ...], str]] = []
    base_dir = Path(source).parent if source and Path(source).is_file() else None
    plugins = data.get("plugins") or []
    if isinstance(plugins, str):
        plugins = [plugins]
        data = {**data, "plugins": plugins}
    if isinstance(plugins, list):
        for index, entry in enumerate(plugins):
            if not isinstance(entry, str):
                found.append(
                    (("plugins", index), f"expected a module name or a .py path, got {entry!r}.")
                )
                continue
            try:
                import_plugin(entry, base_dir)
            except PluginError as error:
                found.append((("plugins", index), str(error)))
    if found:
        return data, found
    data = dict(data)
    for key, kind, field in (
        ("losses", "loss", "loss"),
        ("tasks", "task", "task"),
        ("tasks", "model", "model"),
    ):
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        resolved = []
        for index, entry in enumerate(entries):
            reference = entry.get(field) if isinstance(entry, dict) else None
            if isinstance(reference, str) and ":" in reference:
                try:
                    entry = {**entry, field: resolve_reference(kind, reference, base_dir)}
                except PluginError as error:
                    found.append(((key, index, field), str(error)))
            resolved.append(entry)
        data[key] = resolved
    return data, found


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _read_yaml(text: str, source: str | None) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    try:
        loader = _LineLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expanded_size(node, source)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(error, "problem", None) or str(error)
        raise ConfigError(
            source, [Problem(key="", message=f"not valid YAML: {what}.", line=line)]
        ) from None
    except RecursionError:
        raise ConfigError(
            source, [Problem(key="", message="not valid YAML: nested too deeply.")]
        ) from None
    lines: dict[tuple[str | int, ...], int] = {}
    duplicates: list[Problem] = []

    def walk(current: yaml.Node | None, loc: tuple[str | int, ...]) -> None:
        if current is None:
            return
        lines.setdefault(loc, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in current.value:
                key = key_node.value
                if key in seen:
                    duplicates.append(
                        Problem(
                            key=_key_path((*loc, key)),
                            message="appears twice in the same mapping.",
                            line=key_node.start_mark.line + 1,
                        )
                    )
                seen.add(key)
                lines[(*loc, key)] = key_node.start_mark.line + 1
                walk(value_node, (*loc, key))
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                walk(item, (*loc, index))

    try:
        walk(node, ())
    except RecursionError:
        raise ConfigError(
            source, [Problem(key="", message="not valid YAML: nested too deeply.")]
        ) from None
    if duplicates:
        raise ConfigError(source, duplicates)
    return data, lines


def _check_expanded_size(root: yaml.Node, source: str | None) -> None:
    """Refuse a document whose aliases expand to more than MAX_YAML_NODES values: the node graph
    shares aliased nodes, so sizes are counted once per node and multiplied, never expanded."""
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: deep documents do not hit the recursion limit
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if done:
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[id(node)] = min(size, MAX_YAML_NODES + 1)
            continue
        if id(node) in entered:  # an alias to one of its own ancestors
            raise ConfigError(
                source,
                [
                    Problem(
                        key="",
                        message="an alias (*name) refers to a value that contains it.",
                        line=node.start_mark.line + 1,
                    )
                ],
            )
        entered.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    if sizes[id(root)] > MAX_YAML_NODES:
        raise ConfigError(
            source,
            [
                Problem(
                    key="",
                    message=(
                        f"its aliases (*name) expand to more than {MAX_YAML_NODES:,} values; "
                        "a study file needs far fewer (is it an alias bomb?)."
                    ),
                    line=root.start_mark.line + 1,
                )
            ],
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _from_pydantic(item: Mapping[str, Any], line_of: Any) -> Problem:
    loc = tuple(part for part in item["loc"] if not (isinstance(part, str) and "[" in part))
    kind = item["type"]
    given = item.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        name = str(loc[-1])
        message = _unknown("key", name, allowed)
    elif kind == "missing":
        message = "is required."
    else:
        message = f"{item['msg']} (got {given!r})."
    return Problem(key=_key_path(loc), message=message, line=line_of(loc))
