"""The example studies that ship with polybench, and `init_study` that copies one out.

`polybench init` (quickstart by default) writes one into the working directory, so a user who
installed the wheel has a study file to run:

    >>> from polybench.studies import example_studies, init_study
    >>> sorted(example_studies())[:2]
    ['afqmc', 'cifar10']
    >>> path = init_study("quickstart", "/tmp/demo")     # doctest: +SKIP
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["DEFAULT_STUDY", "example_folder", "example_studies", "init_study", "summary"]

DEFAULT_STUDY = "quickstart"


def example_folder() -> Path:
    """The folder of the example study files: inside the installed package, else the checkout."""
    packaged = Path(str(files("polybench") / "_studies"))
    checkout = Path(__file__).resolve().parents[1] / "studies"
    for folder in (packaged, checkout):
        if any(folder.glob("*.yaml")):
            return folder
    raise FileNotFoundError(
        f"polybench's example studies are missing: looked in {packaged} and {checkout}; "
        "reinstall polybench"
    )


def example_studies() -> dict[str, Path]:
    """Every example study: name (file stem) -> its file."""
    return {path.stem: path for path in sorted(example_folder().glob("*.yaml"))}


def summary(path: Path) -> str:
    """The first sentence of a study file's opening comment (what it compares)."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        words += line.lstrip("#").split()
    text = " ".join(words)
    end = text.find(". ")
    return text if end == -1 else text[: end + 1]


def init_study(
    name: str = DEFAULT_STUDY, directory: str | Path = ".", *, force: bool = False
) -> Path:
    """Copy example study `name` to `directory/<name>.yaml` and return the new file's path.

    Raises:
        ValueError: for an unknown name (with the names there are).
        FileExistsError: when the file exists and `force` is False.
    """
    from polybench.errors import did_you_mean

    studies = example_studies()
    key = name.removesuffix(".yaml")
    if key not in studies:
        raise ValueError(
            f"no example study {name!r}; examples: {', '.join(studies)}."
            + did_you_mean(key, studies)
        )
    target = Path(directory) / f"{key}.yaml"
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(studies[key].read_text(encoding="utf-8"), encoding="utf-8")
    return target
