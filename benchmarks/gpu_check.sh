#!/usr/bin/env bash
# The GPU checks of issue 14 in one command, for a machine with a CUDA GPU (docs/scaling.md, "GPUs"):
# the loss benchmark (eager and torch.compile'd losses at 4096 x 1000, 256 x 100 and 64 x 10),
# fit's throughput against a hand-written loop, and studies/cifar_shaped.yaml on generated data.
# Everything it prints is also written to $OUT (default gpu-check/), with the study's database
# and report.
#
#   bash benchmarks/gpu_check.sh                      # on the GPU machine, from the repository root
#   DEVICE=cpu QUICK=1 bash benchmarks/gpu_check.sh   # the same steps, scaled down, on a CPU
#
# A Python without polybench's dependencies takes them as wheels from .whl/ (make gpu-wheels
# downloads them here, for Python 3.12 on x86-64) and polybench from this tree.
set -euo pipefail
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
out=${OUT:-gpu-check}
mkdir -p "$out"
if ! "$python" -c "import optuna, sqlalchemy, alembic, pydantic, plotly" 2>/dev/null \
    && compgen -G ".whl/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/polybench-site .whl/*.whl
    export PYTHONPATH="/tmp/polybench-site${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$python" -c "import polybench" 2>/dev/null; then
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # not installed: this tree's
fi
export PYTHONUNBUFFERED=1
study=studies/cifar_shaped.yaml
repeats=()
if [[ -n "${QUICK:-}" ]]; then
    repeats=(--repeats 3)
    study="$out/cifar_shaped_quick.yaml"
    "$python" - "$study" <<'PY'
import sys
from pathlib import Path

import yaml

data = yaml.safe_load(Path("studies/cifar_shaped.yaml").read_text())
data["name"] = "cifar_shaped_quick"
data["tasks"][0].update(model="small_cnn", epochs=1, samples=400, image_size=16)
data["search"]["trials"], data["confirm"]["seeds"] = 1, 1
data.pop("amp")
Path(sys.argv[1]).write_text(yaml.safe_dump(data, sort_keys=False))
PY
fi
{
    if [[ "$device" == cuda* ]]; then
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    fi
    "$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee "$out/machine.txt"
for shape in "4096 1000" "256 100" "64 10"; do
    set -- $shape
    "$python" benchmarks/losses.py --device "$device" --compile --batch "$1" --classes "$2" \
        "${repeats[@]}"
    echo
done 2>&1 | tee "$out/losses.txt"
"$python" benchmarks/train.py --device "$device" "${repeats[@]}" 2>&1 | tee "$out/train.txt"
storage="sqlite:///$out/study.db"
name=$("$python" -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['name'])" "$study")
devices=()
if [[ "$device" == cuda* ]]; then
    devices=(--devices auto)
fi
"$python" -m polybench run "$study" --storage "$storage" "${devices[@]}" 2>&1 | tee "$out/study.txt"
"$python" -m polybench report "$name" --storage "$storage" --format md --output "$out/report.md"
echo "written to $out/: machine.txt losses.txt train.txt study.txt study.db report.md"
