#!/bin/sh
# fetch_proto.sh refreshes onnx.proto3 from the onnx wheel on PyPI.
# The wheel ships onnx.in.proto and ONNX's own gen_proto.py; the latter writes
# onnx.proto3 (the proto3 form of the schema). Then run `make proto`.
set -eu
version=${1:-1.23.2}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip download --no-deps --only-binary=:all: "onnx==$version" -d "$tmp" >/dev/null
cd "$tmp"
python3 -m zipfile -e onnx-*.whl whl
mkdir out
python3 whl/onnx/gen_proto.py -o out onnx >/dev/null
cp out/onnx.proto3 "$here/onnx.proto3"
cp whl/onnx-*.dist-info/licenses/LICENSE "$here/LICENSE"
echo "onnx.proto3 from onnx $version"
