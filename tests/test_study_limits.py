"""Hostile study files get one line and exit code 2, within 1 GB of memory.

Each file below once exhausted the machine or crashed with a traceback (a YAML alias bomb
took over 5 GB; `seeds: 100000000` took 8.4 GB even with --dry-run). They are checked in a
subprocess whose data segment is capped with `resource.setrlimit(RLIMIT_DATA, 1 GiB)`, so a
regression fails with MemoryError instead of taking the machine down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LIMIT = 1 << 30

BASE = """\
name: hostile
seed: 0
tasks: [{task: digits, model: small_cnn, epochs: 1}]
losses: [{loss: cross_entropy}]
"""


def _bomb() -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


# name -> (file bytes, words the one-line message must contain)
HOSTILE: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "alias_bomb": (_bomb(), ("aliases", "100,000")),
    "alias_cycle": (b"name: &n [*n]\n", ("alias", "contains it")),
    "deep_nesting": (b"name: " + b"[" * 50_000 + b"\n", ("nested too deeply",)),
    "too_big": (BASE.encode() + b"# " + b"x" * 1_100_000 + b"\n", ("1,000,000 bytes",)),
    "not_utf8": (b"name: caf\xe9\n" + BASE.encode()[14:], ("not UTF-8", "offset 9", "0xe9")),
    "seeds": (BASE.encode() + b"confirm: {seeds: 100000000}\n", ("confirm.seeds", "1000")),
    "trials": (BASE.encode() + b"search: {trials: 1000000000}\n", ("search.trials", "100000")),
    "epochs": (
        BASE.replace("epochs: 1", "epochs: 1000000000").encode(),
        ("tasks[0].epochs", "100000"),
    ),
    "long_name": (BASE.replace("hostile", "n" * 500).encode(), ("name", "200 characters")),
    "huge_seed": (BASE.replace("seed: 0", "seed: 99999999999").encode(), ("seed",)),
}

CHECK = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_DATA, ({limit}, {limit}))
from polybench.config import ConfigError, load_study
results = {{}}
for name, path in json.loads(sys.argv[1]).items():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        load_study(path)
        message = None
    except ConfigError as error:
        message = str(error)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results[name] = {{"message": message, "grew_kb": after - before, "maxrss_kb": after}}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, (data, _) in HOSTILE.items():
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_bytes(data)
    return paths


@pytest.fixture(scope="module")
def outcomes(hostile_files: dict[str, Path]) -> dict[str, dict]:
    """Every hostile file loaded in one subprocess capped at 1 GiB of data."""
    paths = {name: str(path) for name, path in hostile_files.items()}
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(limit=LIMIT), json.dumps(paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_study_file_is_refused_in_one_line(
    name: str, outcomes: dict[str, dict], hostile_files: dict[str, Path]
):
    message = outcomes[name]["message"]
    assert message is not None, f"{name} was accepted"
    assert "\n" not in message, message
    assert message.startswith(str(hostile_files[name])), message
    for word in HOSTILE[name][1]:
        assert word in message, message
    # Refused before it could grow: far below the 1 GiB cap.
    assert outcomes[name]["grew_kb"] < 200_000, outcomes[name]


@pytest.mark.parametrize("name", ["alias_bomb", "seeds"])
def test_cli_refuses_hostile_files_with_exit_code_2(name: str, hostile_files: dict[str, Path]):
    limited = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_DATA, ({LIMIT}, {LIMIT}))
        sys.argv = ["polybench", *sys.argv[1:]]
        from polybench.cli import main
        main()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", limited, "run", str(hostile_files[name]), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.count("\n") == 1 and done.stdout == "", done.stderr
