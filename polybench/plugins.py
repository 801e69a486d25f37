"""Plug-ins: losses, tasks and models that live outside polybench.

A study file names a plug-in three ways, and every process that reads the study (each worker,
`polybench status`, the report and the dashboard) loads it the same way, because they all read
the study through `polybench.config.parse_study`:

- by import path: `loss: my_losses:Poly2CrossEntropy` (`package.module:Name`; the module is
  imported from `sys.path`, the study file's folder or the working directory);
- by a module or file listed under `plugins: [my_module, ./my_losses.py]` that registers its
  names when imported (`@polybench.losses.register`, `polybench.tasks.register(...)`);
- by an entry point of an installed package, in the groups `polybench.losses`,
  `polybench.tasks` and `polybench.models` (entry point name = the registered name).

A plug-in loss subclasses `polybench.losses.Loss` and declares `hyperparams` with
`HyperParam` (a `polybench.settings.Setting`), so validation, search ranges and `polybench
losses` treat it as a built-in one.
`check_loss_contract` refuses, before any training, a loss that returns the wrong shape, NaN
on finite input, or no gradient.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "ENTRY_POINT_GROUPS",
    "PluginError",
    "check_loss_contract",
    "import_plugin",
    "load_entry_points",
    "resolve_reference",
]

# What a study file picks by name -> the entry point group that adds names to it.
ENTRY_POINT_GROUPS = {
    "loss": "polybench.losses",
    "task": "polybench.tasks",
    "model": "polybench.models",
}

_loaded_groups: set[str] = set()


class PluginError(ValueError):
    """A plug-in that cannot be imported or does not fit what polybench expects (one line)."""


def load_entry_points(kind: str | None = None) -> None:
    """Register every installed entry point of `kind` ('loss', 'task', 'model'; None: all).

    Runs once per process and group. A broken entry point is logged and skipped, so one bad
    package does not stop polybench; a study that names it then says the name is unknown.
    """
    kinds = list(ENTRY_POINT_GROUPS) if kind is None else [kind]
    for each in kinds:
        group = ENTRY_POINT_GROUPS[each]
        if group in _loaded_groups:
            continue
        _loaded_groups.add(group)
        for point in entry_points(group=group):
            try:
                registered = _register(
                    each, point.load(), f"entry point {point.name!r} ({point.value})"
                )
            except Exception as error:  # a third-party package's bug must not stop polybench
                logger.warning(
                    "polybench: skipped entry point %r in group %s (%s): %s",
                    point.name,
                    group,
                    point.value,
                    error,
                )
                continue
            if registered != point.name:
                logger.warning(
                    "polybench: entry point %r in group %s registers the name %r; studies use %r",
                    point.name,
                    group,
                    registered,
                    registered,
                )


def import_plugin(entry: str, base_dir: Path | None = None) -> ModuleType:
    """Import a `plugins:` entry: a module name (`my_pkg.losses`) or a `.py` file path.

    A relative file path is taken from `base_dir` (the study file's folder), else the working
    directory. Importing the same file twice returns the module imported first.

    Raises:
        PluginError: one line naming the entry, where it was looked for and why it failed.
    """
    if entry.endswith(".py") or "/" in entry or "\\" in entry:
        return _import_file(entry, base_dir)
    return _import_module(entry, base_dir)


def resolve_reference(kind: str, reference: str, base_dir: Path | None = None) -> str:
    """The registered name for `reference`: a name, or `package.module:Name` (imported and
    registered here). `kind` is 'loss', 'task' or 'model'.

    Raises:
        PluginError: when the module or the attribute is missing or is not a `kind`.
    """
    if ":" not in reference:
        return reference
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise PluginError(
            f"{reference!r} is not an import path; write package.module:Name (e.g. "
            f"my_losses:Poly2CrossEntropy)."
        )
    module = _import_module(module_name, base_dir)
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            names = sorted(n for n in dir(module) if not n.startswith("_"))
            raise PluginError(
                f"{reference!r}: module {module_name!r} ({module.__file__}) has no {attribute!r}; "
                f"it defines: {', '.join(names) or '(nothing)'}."
            )
        target = getattr(target, part)
    return _register(kind, target, reference)


def check_loss_contract(name: str, params: dict[str, Any] | None = None) -> str | None:
    """Call loss `name` once on small random input; return why it breaks the contract, or None.

    The contract: `loss(logits, target)` with logits `(N, C)` float and target `(N,)` class
    indices returns a 0-dim tensor that is finite for finite input and has a finite gradient
    with respect to the logits.
    """
    import torch

    from polybench.losses import build_loss

    generator = torch.Generator().manual_seed(0)
    logits = (torch.randn(8, 5, generator=generator) * 4).requires_grad_(True)
    target = torch.randint(0, 5, (8,), generator=generator)
    shapes = "logits (8, 5) and targets (8,)"
    try:
        loss = build_loss(name, **(params or {}))
        value = loss(logits, target)
    except Exception as error:
        return f"calling it on {shapes} raised {type(error).__name__}: {error}"
    if not isinstance(value, torch.Tensor):
        return f"for {shapes} it returned {type(value).__name__}, not a tensor"
    if value.dim() != 0:
        return (
            f"for {shapes} it returned shape {tuple(value.shape)}; a loss returns a scalar "
            "(0-dim tensor) to minimise"
        )
    if not torch.isfinite(value).item():
        return f"for finite {shapes} it returned {value.item()}"
    if not value.requires_grad:
        return f"its value for {shapes} has no gradient (requires_grad is False)"
    try:
        (gradient,) = torch.autograd.grad(value, logits, allow_unused=True)
    except RuntimeError as error:
        return f"backward failed: {error}"
    if gradient is None:
        return "its value does not depend on the logits (no gradient reaches them)"
    if not torch.isfinite(gradient).all().item():
        return f"its gradient for finite {shapes} is not finite"
    return None


def is_builtin(obj: Any) -> bool:
    """Whether a registered loss class or spec comes with polybench itself."""
    module = getattr(obj, "__module__", "") or ""
    if not isinstance(obj, type):
        module = getattr(
            getattr(obj, "build", None) or getattr(obj, "read", None), "__module__", ""
        )
    return module == "polybench" or module.startswith("polybench.")


# --------------------------------------------------------------------------------------------


def _registry(kind: str) -> tuple[dict[str, Any], Callable[[Any], Any], Callable[[Any], bool]]:
    if kind == "loss":
        from polybench.losses import LOSSES, Loss, register

        return LOSSES, register, lambda obj: isinstance(obj, type) and issubclass(obj, Loss)
    if kind == "task":
        from polybench.tasks import TASKS, TaskSpec, register

        return TASKS, register, lambda obj: isinstance(obj, TaskSpec)
    if kind == "model":
        from polybench.models import MODELS, ModelSpec, register

        return MODELS, register, lambda obj: isinstance(obj, ModelSpec)
    raise ValueError(
        f"unknown plug-in kind {kind!r}; expected one of {', '.join(ENTRY_POINT_GROUPS)}"
    )


_EXPECTED = {
    "loss": "a subclass of polybench.losses.Loss",
    "task": "a polybench.tasks.TaskSpec",
    "model": "a polybench.models.ModelSpec",
}


def _name_of(obj: Any) -> str:
    return str(getattr(obj, "name", "") or "")


def _register(kind: str, obj: Any, where: str) -> str:
    registry, register, fits = _registry(kind)
    if not fits(obj):
        raise PluginError(f"{where} is {_describe(obj)}, expected {_EXPECTED[kind]}.")
    name = _name_of(obj)
    if not name:
        raise PluginError(f"{where} has no `name`; a {kind} declares the name studies use.")
    if registry.get(name) is obj:
        return name
    if name in registry:
        other = registry[name]
        raise PluginError(
            f"{where} registers the {kind} name {name!r}, already taken by "
            f"{_describe(other)}; give it another `name`."
        )
    register(obj)
    return name


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__}"
    return f"{type(obj).__name__} {getattr(obj, 'name', '')!r}".rstrip(" '")


def _search_dirs(base_dir: Path | None) -> list[str]:
    dirs = [str(Path.cwd())]
    if base_dir is not None:
        dirs.insert(0, str(base_dir.resolve()))
    return dirs


def _import_module(name: str, base_dir: Path | None) -> ModuleType:
    # The study's folder and the working directory join sys.path (worker processes inherit it),
    # as `python -m` would put the working directory there.
    for folder in reversed(_search_dirs(base_dir)):
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and name.startswith(error.name):
            raise PluginError(
                f"cannot import module {name!r}: not found on sys.path, in the study's folder "
                f"or in {Path.cwd()}."
            ) from None
        raise PluginError(f"importing module {name!r} failed: {error}.") from None
    except Exception as error:
        raise PluginError(
            f"importing module {name!r} failed: {type(error).__name__}: {error}."
        ) from None


def _import_file(entry: str, base_dir: Path | None) -> ModuleType:
    path = Path(entry).expanduser()
    candidates = [path] if path.is_absolute() else [Path(d) / path for d in _search_dirs(base_dir)]
    found = next((c.resolve() for c in candidates if c.is_file()), None)
    if found is None:
        looked = " and ".join(str(c) for c in dict.fromkeys(candidates))
        raise PluginError(f"plug-in file {entry!r} not found (looked at {looked}).")
    digest = hashlib.sha1(str(found).encode()).hexdigest()[:8]
    module_name = f"polybench_plugin_{found.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, found)
    if spec is None or spec.loader is None:
        raise PluginError(f"plug-in file {found} cannot be imported as Python.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise PluginError(
            f"importing plug-in file {found} failed: {type(error).__name__}: {error}."
        ) from None
    return module
