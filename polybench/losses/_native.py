"""The optional compiled CPU kernel of the softmax family's short path (`_native.cpp`).

At the batch sizes polybench's tasks train with (64 x 10 on one thread) a loss costs what its
calls cost, not its arithmetic: focal's five eager ops with their backward nodes cost 1.6-1.8x
`F.cross_entropy`, more than any arrangement of stock torch ops can save. One compiled op with
its own backward costs about what `F.cross_entropy` does (`benchmarks/losses.py`).

The kernel is built explicitly, never on import or in the middle of a study:
`polybench kernels --build` (which `make setup` runs) compiles `_native.cpp` with torch's C++
extension tools into a cache folder keyed by the torch version, the Python version and the
source's hash, so an upgrade of either or an edit of the source needs a new build and never
loads a stale one. A process then uses the kernel when that build exists, and the eager short
path otherwise; the results agree to rounding (tests/test_native.py). `POLYBENCH_NATIVE=0`
turns the kernel off; `POLYBENCH_KERNEL_DIR` moves the cache (default
`$XDG_CACHE_HOME/polybench/kernels`, else `~/.cache/polybench/kernels`).

The kernel covers Poly-1 cross-entropy, Poly-N with one coefficient, focal and Poly-1 focal on
2-D float32/float64 CPU logits with int64 class indices, an optional class weight, any
`ignore_index` and reduction; everything else (label smoothing, a focal alpha, more dimensions,
other dtypes or devices) keeps the eager paths.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

SOURCE = Path(__file__).with_name("_native.cpp")
DISABLE_VARIABLE = "POLYBENCH_NATIVE"
DIRECTORY_VARIABLE = "POLYBENCH_KERNEL_DIR"

_UNSET: Any = object()
_loaded: Any = _UNSET  # the module, None (unavailable), or _UNSET (not looked for yet)
_forced_eager = False  # set by `eager_only()`


@dataclass(frozen=True)
class Build:
    """Where this torch and Python would keep the compiled kernel."""

    name: str
    directory: Path

    @property
    def library(self) -> Path:
        return self.directory / f"{self.name}.so"


def build_location() -> Build:
    """The module name and folder of the build for this source, torch and Python."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    root = os.environ.get(DIRECTORY_VARIABLE)
    if root:
        base = Path(root).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        base = Path(cache) / "polybench" / "kernels"
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    folder = f"torch-{torch.__version__}-{python}-{digest}"
    return Build(name=f"polybench_native_{digest}", directory=base / folder)


def disabled() -> bool:
    """True when `POLYBENCH_NATIVE` is set to 0, false, no or off."""
    return os.environ.get(DISABLE_VARIABLE, "").strip().lower() in {"0", "false", "no", "off"}


def build(verbose: bool = False) -> Build:
    """Compile the kernel into its cache folder (a no-op when it is there) and return where.

    Needs a C++ compiler and ninja; raises `RuntimeError` naming what failed otherwise.
    """
    where = build_location()
    if not where.library.exists():
        from torch.utils import cpp_extension

        where.directory.mkdir(parents=True, exist_ok=True)
        try:
            cpp_extension.load(
                name=where.name,
                sources=[str(SOURCE)],
                build_directory=str(where.directory),
                extra_cflags=["-O3"],
                verbose=verbose,
            )
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            raise RuntimeError(
                f"could not compile {SOURCE.name} into {where.directory}: {exc}"
            ) from exc
    forget()
    return where


def _import(where: Build) -> ModuleType | None:
    if not where.library.exists():
        return None
    loaded = sys.modules.get(where.name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(where.library):
        return loaded
    loader = importlib.machinery.ExtensionFileLoader(where.name, str(where.library))
    spec = importlib.util.spec_from_file_location(where.name, where.library, loader=loader)
    if spec is None:
        return None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules[where.name] = module
    return module


def load_error() -> str | None:
    """Why the built kernel cannot be loaded, or None when it can (or is not built)."""
    try:
        _import(build_location())
    except (ImportError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def module() -> ModuleType | None:
    """The compiled kernel when it is built, loads and is not turned off; else None.

    Looked up once per process; `forget()` (and `build()`) make the next call look again.
    """
    global _loaded
    if _forced_eager:
        return None
    if _loaded is _UNSET:
        try:
            _loaded = None if disabled() else _import(build_location())
        except (ImportError, OSError):
            _loaded = None
    return _loaded


def forget() -> None:
    """Look for the kernel again on next use (after a build, or a change of the environment)."""
    global _loaded
    _loaded = _UNSET


def force_eager(eager: bool) -> bool:
    """Make the softmax losses use their eager paths (True) or the kernel where it is built
    (False) from now on; returns the previous setting. `eager_only()` is the usual way."""
    global _forced_eager
    before, _forced_eager = _forced_eager, eager
    return before


@contextlib.contextmanager
def eager_only() -> Iterator[None]:
    """Within the block the softmax losses use their eager paths, built kernel or not (for
    tests and benchmarks that compare the two)."""
    before = force_eager(True)
    try:
        yield
    finally:
        force_eager(before)


def status() -> dict[str, Any]:
    """What `polybench kernels` prints: where the build lives and whether this process uses it."""
    where = build_location()
    built = where.library.exists()
    error = load_error() if built else None
    return {
        "source": str(SOURCE),
        "library": str(where.library),
        "built": built,
        "load_error": error,
        "disabled_by": f"{DISABLE_VARIABLE}={os.environ[DISABLE_VARIABLE]}" if disabled() else None,
        "in_use": built and error is None and not disabled(),
        "torch": torch.__version__,
    }
