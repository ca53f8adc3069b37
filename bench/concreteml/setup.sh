#!/usr/bin/env bash
# Recreates the Concrete ML virtualenv used by run.py, outside the repository.
# Usage: bench/concreteml/setup.sh [venv-dir]   (default /work/venv-cml; about 6 GB, torch brings CUDA wheels)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-/work/venv-cml}"
python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), "need Python 3.11, have " + sys.version'
python3 -m venv "$venv"
"$venv/bin/pip" install --upgrade pip
"$venv/bin/pip" install -r "$here/requirements.txt"
"$venv/bin/python" -c 'import concrete.ml, concrete.fhe; print("concrete-ml", concrete.ml.__version__, "concrete-python", concrete.fhe.__version__)'
