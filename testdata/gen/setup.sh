#!/usr/bin/env bash
# Creates the Python environment that export_all.sh uses.
# Usage: testdata/gen/setup.sh [VENV_DIR]   (default: $FHEIR_VENV or /work/venv)
# The venv lives outside the repository: torch from PyPI pulls several GB of
# CUDA wheels even though the scripts only run on the CPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-${FHEIR_VENV:-/work/venv}}"
python="${PYTHON:-python3}"
"$python" - <<'PY'
import sys
if not ((3, 10) <= sys.version_info[:2] < (3, 13)):
    sys.exit(f"need Python 3.10-3.12 for onnx==1.17.0 wheels, got {sys.version.split()[0]}")
PY
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --upgrade pip
"$venv/bin/pip" install -r "$here/requirements.txt"
"$venv/bin/python" -c 'import torch, brevitas, onnx, sklearn; print("torch", torch.__version__, "brevitas", brevitas.__version__, "onnx", onnx.__version__)'
