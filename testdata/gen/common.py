"""Shared helpers for the export scripts: data, training, saving, checking.

Every script imports this module, trains a small model on a data set that
scikit-learn ships (no download), exports it to ONNX and writes, next to the
.onnx files in testdata/models/:

  NAME.input.npy   float32 test rows fed to the model
  NAME.output.npy  float32 outputs of the torch/Brevitas model on those rows
  NAME.label.npy   int64 true labels of those rows
  NAME.calib.npy   float32 calibration rows taken from the training split
  NAME.meta.json   architecture, accuracies, exports (op types, domains, opsets)

Each export is re-run with onnx's reference evaluator (with a small
implementation of QONNX's Quant op) and must reproduce NAME.output.npy; the
largest difference is recorded in the meta file.
"""

import json
import os
import random
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import torch  # noqa: E402
import onnx  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.reference.op_run import OpRun  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.environ.get("FHEIR_MODELS_DIR", os.path.join(HERE, "..", "models"))

N_TEST_ROWS = 60  # rows written to NAME.input.npy
N_CALIB_ROWS = 100  # rows written to NAME.calib.npy


def seed_everything(seed):
    """Makes training and export deterministic on the CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def digits(image=True, downsample=False):
    """Returns (x_train, x_test, y_train, y_test) of the 8x8 digits.

    Pixels are scaled from 0..16 to [0, 1]. image=True gives N x 1 x 8 x 8,
    otherwise N x 64. downsample=True averages 2x2 blocks into a 4x4 image
    (N x 16 when image=False).
    """
    d = datasets.load_digits()
    x = (d.images / 16.0).astype(np.float32)
    if downsample:
        x = x.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4))
    x = x[:, None] if image else x.reshape(len(x), -1)
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


def tabular(name):
    """Returns standardized (x_train, x_test, y_train, y_test) of a scikit-learn
    table: "wine", "breast_cancer" or "iris"."""
    d = getattr(datasets, "load_" + name)()
    xtr, xte, ytr, yte = train_test_split(
        d.data, d.target, test_size=0.25, random_state=0, stratify=d.target
    )
    sc = StandardScaler().fit(xtr)
    return (
        sc.transform(xtr).astype(np.float32),
        sc.transform(xte).astype(np.float32),
        ytr.astype(np.int64),
        yte.astype(np.int64),
    )


def forward(model, x):
    """Runs model on a float32 numpy array and returns float32 numpy logits."""
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    if hasattr(out, "value"):  # a Brevitas QuantTensor
        out = out.value
    return out.detach().numpy().astype(np.float32)


def accuracy(model, x, y):
    return float((forward(model, x).argmax(axis=1) == y).mean())


def train(model, x, y, epochs, lr=1e-2, batch=32, weight_decay=0.0, cosine=False, log=True):
    """Adam + cross-entropy mini-batch training; cosine=True decays the
    learning rate to zero over the epochs (steadier for very low bit widths)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs) if cosine else None
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(1234)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            out = model(xt[idx])
            if hasattr(out, "value"):
                out = out.value
            loss = loss_fn(out, yt[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        if sched is not None:
            sched.step()
        if log and (epoch == epochs - 1 or epoch % max(5, epochs // 5) == 0):
            print(f"  epoch {epoch:3d} loss {total / len(xt):.4f}", file=sys.stderr)
    model.eval()
    return model


class Quant(OpRun):
    """QONNX Quant for onnx's reference evaluator:
    y = (clip(round(x/scale + zeropt), lo, hi) - zeropt) * scale."""

    op_domain = "qonnx.custom_op.general"

    def _run(self, x, scale, zeropt, bitwidth, narrow=0, rounding_mode="ROUND", signed=1):
        q = x / scale + zeropt
        if rounding_mode in ("ROUND", b"ROUND"):
            q = np.round(q)  # half to even
        elif rounding_mode in ("FLOOR", b"FLOOR"):
            q = np.floor(q)
        elif rounding_mode in ("CEIL", b"CEIL"):
            q = np.ceil(q)
        else:
            raise ValueError(f"rounding_mode {rounding_mode!r}")
        b = float(np.asarray(bitwidth))
        if signed:
            lo, hi = -(2 ** (b - 1)) + (1 if narrow else 0), 2 ** (b - 1) - 1
        else:
            lo, hi = 0, 2**b - 1 - (1 if narrow else 0)
        q = np.clip(q, lo, hi)
        return (((q - zeropt) * scale).astype(x.dtype),)


class BrevitasQuant(Quant):
    """The same op under Brevitas' older domain name."""

    op_domain = "onnx.brevitas"


def _axis_shape(x, scale, axis):
    if np.ndim(scale) == 0:
        return scale
    shape = [1] * x.ndim
    shape[axis] = -1
    return np.reshape(scale, shape)


class QuantizeLinear(OpRun):
    """QuantizeLinear of opsets 13-18 (onnx 1.17's reference evaluator only
    has it from opset 19 on): saturate(round_half_even(x/scale) + zp)."""

    op_domain = ""

    def _run(self, x, scale, zero_point=None, axis=1, **_):
        axis = 1 if axis is None else axis
        zp = np.zeros((), np.uint8) if zero_point is None else zero_point
        info = np.iinfo(zp.dtype)
        q = np.round(x / _axis_shape(x, scale, axis)) + _axis_shape(x, zp.astype(np.float32), axis)
        return (np.clip(q, info.min, info.max).astype(zp.dtype),)


class DequantizeLinear(OpRun):
    """DequantizeLinear of opsets 13-18: (x - zp) * scale."""

    op_domain = ""

    def _run(self, x, scale, zero_point=None, axis=1, **_):
        axis = 1 if axis is None else axis
        zp = 0 if zero_point is None else _axis_shape(x, zero_point.astype(np.float32), axis)
        return (((x.astype(np.float32) - zp) * _axis_shape(x, scale, axis)).astype(np.float32),)


def run_onnx(path, x):
    """Runs an exported model row by row (exports have batch 1 unless the batch
    axis is symbolic) with onnx's reference evaluator."""
    m = onnx.load(path)
    ev = ReferenceEvaluator(m, new_ops=[Quant, BrevitasQuant, QuantizeLinear, DequantizeLinear])
    init = {i.name for i in m.graph.initializer}
    inp = [i for i in m.graph.input if i.name not in init][0]
    dim0 = inp.type.tensor_type.shape.dim[0]
    if dim0.dim_param or dim0.dim_value != 1:
        return ev.run(None, {inp.name: x})[0]
    return np.concatenate([ev.run(None, {inp.name: x[i : i + 1]})[0] for i in range(len(x))])


def describe(path):
    """Summarizes an ONNX file: opsets, op types with domains, input shapes."""
    m = onnx.load(path)
    init = {i.name for i in m.graph.initializer}

    def shape(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    ops = {}
    for n in m.graph.node:
        key = f"{n.domain}:{n.op_type}" if n.domain else n.op_type
        ops[key] = ops.get(key, 0) + 1
    return {
        "file": os.path.basename(path),
        "bytes": os.path.getsize(path),
        "ir_version": m.ir_version,
        "producer": f"{m.producer_name} {m.producer_version}",
        "opset_import": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "inputs": {i.name: shape(i) for i in m.graph.input if i.name not in init},
        "initializers_listed_as_inputs": sum(1 for i in m.graph.input if i.name in init),
        "outputs": {o.name: shape(o) for o in m.graph.output},
        "ops": dict(sorted(ops.items())),
    }


def check_export(path, x, want, tol):
    """Runs the export on x and compares with the torch outputs `want`."""
    got = run_onnx(path, x)
    diff = float(np.max(np.abs(got.astype(np.float64) - want)))
    agree = float((got.argmax(axis=1) == want.argmax(axis=1)).mean())
    info = describe(path)
    info["max_abs_diff_vs_torch"] = diff
    info["argmax_agreement_vs_torch"] = agree
    print(f"  {info['file']}: {info['bytes']} B, opsets {info['opset_import']}, "
          f"max |onnx - torch| = {diff:.3g}, argmax agreement {agree:.3f}", file=sys.stderr)
    print(f"    ops {info['ops']}", file=sys.stderr)
    if diff > tol:
        raise SystemExit(f"{path}: reference evaluator differs from torch by {diff} > {tol}")
    return info


def save_case(name, model, xtr, xte, ytr, yte, exports, meta, tol=1e-4):
    """Writes NAME.{input,output,label,calib}.npy and NAME.meta.json, and checks
    every export in `exports` (paths relative to OUT_DIR) against torch."""
    os.makedirs(OUT_DIR, exist_ok=True)
    x = np.ascontiguousarray(xte[:N_TEST_ROWS], dtype=np.float32)
    y = np.ascontiguousarray(yte[:N_TEST_ROWS], dtype=np.int64)
    out = forward(model, x)
    calib = np.ascontiguousarray(xtr[:N_CALIB_ROWS], dtype=np.float32)
    np.save(os.path.join(OUT_DIR, f"{name}.input.npy"), x)
    np.save(os.path.join(OUT_DIR, f"{name}.output.npy"), out)
    np.save(os.path.join(OUT_DIR, f"{name}.label.npy"), y)
    np.save(os.path.join(OUT_DIR, f"{name}.calib.npy"), calib)
    meta = dict(meta)
    meta["name"] = name
    meta["rows"] = len(x)
    meta["calib_rows"] = len(calib)
    meta["accuracy_test_split"] = round(accuracy(model, xte, yte), 4)
    meta["test_split_rows"] = len(xte)
    meta["accuracy_saved_rows"] = round(float((out.argmax(axis=1) == y).mean()), 4)
    meta["torch"] = torch.__version__
    try:
        import brevitas

        meta["brevitas"] = brevitas.__version__
    except ImportError:
        pass
    meta["onnx"] = onnx.__version__
    meta["exports"] = [check_export(os.path.join(OUT_DIR, e), x, out, tol) for e in exports]
    with open(os.path.join(OUT_DIR, f"{name}.meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{name}: accuracy {meta['accuracy_test_split']:.4f} on {len(xte)} test rows, "
          f"{meta['accuracy_saved_rows']:.4f} on the {len(x)} saved rows", file=sys.stderr)
    return meta


def strip_stack_traces(path):
    """Drops the "pkg.torch.onnx.stack_trace" metadata that the dynamo exporter
    attaches to every node: it holds absolute paths of this checkout and of the
    venv, so the file would change with the folder it is generated in. The
    other per-node metadata (namespace, class hierarchy, fx node) stays, as in
    real exports."""
    m = onnx.load(path)
    for n in m.graph.node:
        keep = [p for p in n.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del n.metadata_props[:]
        n.metadata_props.extend(keep)
    onnx.save(m, path)


def out_path(fname):
    os.makedirs(OUT_DIR, exist_ok=True)
    return os.path.join(OUT_DIR, fname)
