"""Small QAT MLP for the README demo (run under real encryption).

Digits 8x8, central 6x6 crop (the border pixels are nearly always blank),
flattened to 36 inputs (pixels/16)
-> 2-bit unsigned QuantIdentity (x_int in 0..3)
-> QuantLinear(36,16) with 2-bit narrow-range weights (w_int in -1..1)
-> 3-bit QuantReLU (0..7)
-> QuantLinear(16,10) with 2-bit narrow-range weights.

The bit widths are chosen so that every accumulator sum_i w_int*x_int fits in
8 signed bits whatever the weights are: layer 1 has 36 inputs x |w_int| <= 1 x
x_int <= 3, so |acc| <= 108; layer 2 has 16 inputs x 1 x 7, so |acc| <= 112.
The script checks these bounds on the exported graph (and records the
per-neuron bound and the observed maximum) in NAME.meta.json; it fails if a
bound reaches 128.

Alternatives measured before choosing (2-3 seeds, test accuracy): 4x4
downsampled digits (16 inputs) with a 3-bit input quantizer, bound 112:
78-86%. All 64 pixels with a 1-bit unsigned input quantizer, bound 64: 92-94%,
but it cannot be exported: Brevitas 0.13.4's QCDQ exporter refuses it
("AssertionError: Binary quant not supported") and its QONNX exporter writes
every 1-bit quantizer as BipolarQuant (sign(x)*scale, values +-scale), which is
wrong for an unsigned {0, scale} quantizer. The 6x6 crop with 2-bit inputs
reaches 91-95%.

Weight scales are learned (`parameter_from_stats`, initialized from the mean
absolute weight): with the default max-based scale a 2-bit narrow quantizer
rounds almost every weight to zero (64% accuracy on 4x4 digits).
"""

import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import brevitas.nn as qnn
from brevitas.export import export_onnx_qcdq, export_qonnx
from brevitas.quant import Uint8ActPerTensorFloat

import common

NAME = "qat_mlp_demo"
OPSET = 14
IN_FEATURES, IN_BITS, W_BITS, ACT_BITS, HIDDEN = 36, 2, 2, 3, 16
EPOCHS, LR = 80, 0.005


class QATDemoMLP(nn.Module):
    def __init__(self):
        super().__init__()
        wq = dict(
            weight_bit_width=W_BITS,
            weight_narrow_range=True,
            weight_scaling_impl_type="parameter_from_stats",
            weight_scaling_stats_op="ave",
            bias_quant=None,
        )
        self.quant_inp = qnn.QuantIdentity(
            act_quant=Uint8ActPerTensorFloat, bit_width=IN_BITS, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(IN_FEATURES, HIDDEN, True, **wq)
        self.relu1 = qnn.QuantReLU(bit_width=ACT_BITS, return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(HIDDEN, 10, True, **wq)

    def forward(self, x):
        return self.fc2(self.relu1(self.fc1(self.quant_inp(x))))


def signed_bits(lo, hi):
    """Smallest n with -2^(n-1) <= lo and hi <= 2^(n-1) - 1."""
    n = 1
    while lo < -(2 ** (n - 1)) or hi > 2 ** (n - 1) - 1:
        n += 1
    return n


def accumulators(path, x_all):
    """Integer accumulator ranges of every Gemm of a QONNX graph.

    Reads the integer weights and the input quantizer's integer range from the
    graph (what the compiler sees), bounds sum_i w_int*x_int soundly per output
    neuron, and measures the largest one reached on x_all.
    """
    m = onnx.load(path)
    consts = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    producer = {o: n for n in m.graph.node for o in n.output}

    def quant(name):
        n = producer[name]
        if n.op_type != "Quant":
            raise SystemExit(f"{path}: {name} comes from {n.op_type}, want Quant")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        s, zp, bw = (consts[i] for i in n.input[1:4])
        b = int(bw)
        narrow = int(attrs.get("narrow", 0))
        if attrs.get("signed", 1):
            lo, hi = -(2 ** (b - 1)) + narrow, 2 ** (b - 1) - 1
        else:
            lo, hi = 0, 2**b - 1 - narrow
        return n, s, zp, b, lo, hi, bool(attrs.get("signed", 1))

    ev = common.ReferenceEvaluator(m, new_ops=[common.Quant])
    inp = [i.name for i in m.graph.input if i.name not in consts][0]
    gemms = [n for n in m.graph.node if n.op_type == "Gemm"]
    a_names = [g.input[0] for g in gemms]
    acts = {k: [] for k in a_names}
    for i in range(len(x_all)):
        for k, v in zip(a_names, ev.run(a_names, {inp: x_all[i : i + 1]})):
            acts[k].append(v)
    out = []
    for g in gemms:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in g.attribute}
        _, sx, zx, bx, xlo, xhi, xsigned = quant(g.input[0])
        wn, sw, zw, bw, wlo, whi, _ = quant(g.input[1])
        w = consts[wn.input[0]]
        w_int = np.clip(np.round(w / sw + zw), wlo, whi) - zw
        if attrs.get("transB", 0) == 0:
            w_int = w_int.T  # now [out, in]
        xl, xh = xlo - float(zx), xhi - float(zx)
        hi = np.maximum(w_int * xl, w_int * xh).sum(axis=1)
        lo = np.minimum(w_int * xl, w_int * xh).sum(axis=1)
        bias = consts[g.input[2]] / (float(sx) * np.asarray(sw).reshape(-1)) if len(g.input) > 2 else 0
        x_int = np.round(np.concatenate(acts[g.input[0]]) / sx + zx) - zx
        acc = x_int @ w_int.T
        bound = int(max(hi.max(), -lo.min()))
        out.append({
            "node": g.name or g.output[0],
            "weight_bits": bw,
            "weight_int_values": sorted(int(v) for v in np.unique(w_int)),
            "input_bits": bx,
            "input_signed": xsigned,
            "fan_in": int(w_int.shape[1]),
            "fan_out": int(w_int.shape[0]),
            "max_sum_abs_w": int(np.abs(w_int).sum(axis=1).max()),
            "max_abs_x": int(max(abs(xl), abs(xh))),
            # what the bit widths alone guarantee, whatever the trained weights
            "construction_bound": int(w_int.shape[1] * max(abs(wlo - float(zw)), abs(whi - float(zw)))
                                      * max(abs(xl), abs(xh))),
            "bound": bound,
            "bound_range": [int(lo.min()), int(hi.max())],
            "bound_bits": signed_bits(int(lo.min()), int(hi.max())),
            "bound_with_bias": round(float(max((hi + bias).max(), -(lo + bias).min())), 2),
            "observed_range": [int(acc.min()), int(acc.max())],
            "observed_max_abs": int(np.abs(acc).max()),
        })
        print(f"  {out[-1]['node']}: sound |acc| <= {bound} ({out[-1]['bound_bits']} signed bits), "
              f"with bias {out[-1]['bound_with_bias']}, observed {out[-1]['observed_max_abs']}",
              file=sys.stderr)
        if out[-1]["construction_bound"] >= 128:
            raise SystemExit(f"{g.name}: accumulator bound {out[-1]['construction_bound']} "
                             "needs more than 8 bits")
    return out


def crop(images):
    """N x 1 x 8 x 8 -> N x 36: the central 6x6 pixels, row-major."""
    return np.ascontiguousarray(images[:, 0, 1:7, 1:7].reshape(len(images), 36))


def main():
    common.seed_everything(0)
    xtr, xte, ytr, yte = common.digits(image=True)
    xtr, xte = crop(xtr), crop(xte)
    model = QATDemoMLP()
    common.train(model, xtr, ytr, epochs=EPOCHS, lr=LR, cosine=True)
    example = torch.from_numpy(xte[:1])
    qonnx = f"{NAME}.qonnx.op{OPSET}.onnx"
    qcdq = f"{NAME}.qcdq.op{OPSET}.onnx"
    export_qonnx(model, input_t=example, export_path=common.out_path(qonnx), opset_version=OPSET)
    export_onnx_qcdq(model, args=example, export_path=common.out_path(qcdq), opset_version=OPSET)
    acc = accumulators(common.out_path(qonnx), np.concatenate([xtr, xte]))
    common.save_case(
        NAME, model, xtr, xte, ytr, yte, [qonnx, qcdq],
        {
            "dataset": "sklearn digits 8x8, central 6x6 crop (rows 1-6, columns 1-6) flattened to 36, pixels/16",
            "architecture": f"{IN_BITS}-bit unsigned QuantIdentity -> QuantLinear({IN_FEATURES},{HIDDEN}; "
            f"{W_BITS}-bit narrow weights) -> QuantReLU({ACT_BITS}) -> QuantLinear({HIDDEN},10; "
            f"{W_BITS}-bit narrow weights)",
            "kind": "qat",
            "accumulators": acc,
            "accumulator_note": "acc = Σ_i w_int·x_int per output neuron, with w_int and the "
            "input's integer range read from the exported QONNX graph. The sound bound is "
            "max over neurons of Σ_i max(w_int·x_lo, w_int·x_hi) (and the min side) for the "
            "trained weights; the construction bound fan_in·max|w_int|·max|x_int| holds for any "
            "weights of these bit widths; "
            "'with integer bias' adds bias/(s_x·s_w), relevant only if the bias is added to "
            "the accumulator instead of being folded into the following table lookup.",
        },
    )


if __name__ == "__main__":
    main()
