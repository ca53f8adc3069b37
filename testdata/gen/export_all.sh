#!/usr/bin/env bash
# Regenerates every model in testdata/models/ (about 2 minutes on 2 cores).
# Usage: testdata/gen/export_all.sh [VENV_DIR]   (default: $FHEIR_VENV or /work/venv;
#        run setup.sh first). FHEIR_MODELS_DIR overrides the output folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-${FHEIR_VENV:-/work/venv}}"
py="$venv/bin/python"
[ -x "$py" ] || { echo "no Python at $py: run $here/setup.sh first" >&2; exit 1; }
export PYTHONHASHSEED=0 CUBLAS_WORKSPACE_CONFIG=:4096:8 CUDA_VISIBLE_DEVICES=
cd "$here"
for script in qat_mlp_demo qat_cnn_digits float_mlp_digits float_cnn_digits univariate_zoo; do
    echo "== $script" >&2
    "$py" "$script.py"
done
"$py" make_readme.py
