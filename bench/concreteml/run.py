#!/usr/bin/env python3
"""Measure Concrete ML on fheir's QAT models (compile, keygen, key size, latency, throughput).

Run inside the venv made by setup.sh, for example:

    /work/venv-cml/bin/python bench/concreteml/run.py --model simplenet --rows 3 --batch 5 \
        --out bench/concreteml/results/simplenet-default.json

The ONNX files are the project's Brevitas QONNX exports. Three edits are made to the graph in
memory before Concrete ML sees it (nothing on disk changes), all of them semantics-preserving:

1. initializers that are also listed as graph inputs are dropped from the input list;
2. the `Quant` nodes' domain `qonnx.custom_op.general` (Brevitas >= 0.11) is renamed to
   `onnx.brevitas`, the name Concrete ML 1.9 (built against Brevitas 0.10) looks for;
3. CNN only: Concrete ML 1.9's quantized Conv cannot broadcast a per-output-channel weight
   scale of shape (C_out,1,1,1) against the (N,C_out,H,W) output. Each per-channel weight
   `Quant` is therefore replaced by the same quantizer with scale 1 (the integer weights,
   unchanged), and the per-channel scale s_c is moved after the convolution: into the
   BatchNormalization that follows conv1 (gamma*s_c, mean/s_c, bias/s_c) and into an explicit
   per-channel `Mul` after the ReLU that follows conv2 (relu(s*y) = s*relu(y) for s > 0, bias
   divided by s). The float function is unchanged, and Concrete ML fuses the moved scale into
   the table lookup that follows, as it would for a per-tensor scale;
4. CNN only: Concrete ML's QAT import wants a quantizer right in front of every Conv, and does
   not accept a MaxPool in between; a copy of the Quant that feeds the MaxPool is inserted after
   it (the maximum of grid values is a grid value, so no value changes).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FHEIR_SHARED", REPO.parent / "shared"))

MODELS = {
    "simplenet": SHARED / "fixtures" / "qat_simplenet_wine",
    "mlp_demo": REPO / "testdata" / "models" / "qat_mlp_demo",
    "cnn": REPO / "testdata" / "models" / "qat_cnn_digits",
}


def loadavg():
    """Return the 1/5/15-minute load averages as a list of floats."""
    return [round(v, 2) for v in os.getloadavg()]


def cpu_s():
    """Return the CPU seconds (user + system, all threads) this process has used."""
    t = os.times()
    return t.user + t.system


def strip_initializer_inputs(m):
    inits = {i.name for i in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in inits]
    del m.graph.input[:]
    m.graph.input.extend(keep)


def rename_quant_domain(m):
    for n in m.graph.node:
        if n.domain == "qonnx.custom_op.general":
            n.domain = "onnx.brevitas"
    for o in m.opset_import:
        if o.domain == "qonnx.custom_op.general":
            o.domain = "onnx.brevitas"


def move_per_channel_conv_scales(m):
    """Replace per-channel Conv weight scales by scale 1 plus a per-channel factor after the Conv.

    Returns a list of strings describing what was rewritten.
    """
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def arr(name):
        return numpy_helper.to_array(inits[name])

    def set_arr(name, value):
        new = numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)
        inits[name].CopyFrom(new)

    def add_init(name, value):
        t = numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)
        g.initializer.append(t)
        inits[name] = t

    log = []
    for conv in [n for n in g.node if n.op_type == "Conv"]:
        wq = producers.get(conv.input[1])
        if wq is None or wq.op_type != "Quant":
            continue
        scale = arr(wq.input[1])
        if scale.size == 1:
            continue
        s = scale.reshape(-1).astype(np.float64)
        if not np.all(s > 0):
            raise SystemExit(f"{conv.name}: non-positive per-channel scale, cannot move it")
        one = wq.output[0] + "_unit_scale"
        add_init(one, np.float32(1.0))
        wq.input[1] = one
        # Quant with scale 1 yields the integer weights; the float weights must be divided by s.
        w = arr(wq.input[0]).astype(np.float64)
        set_arr(wq.input[0], w / s.reshape(-1, 1, 1, 1))
        if len(conv.input) > 2 and conv.input[2]:
            set_arr(conv.input[2], arr(conv.input[2]).astype(np.float64) / s)
        nxt = consumers[conv.output[0]]
        assert len(nxt) == 1, conv.name
        nxt = nxt[0]
        if nxt.op_type == "BatchNormalization":
            gamma, mean = nxt.input[1], nxt.input[3]
            set_arr(gamma, arr(gamma).astype(np.float64) * s)
            set_arr(mean, arr(mean).astype(np.float64) / s)
            log.append(f"{conv.name}: per-channel scale folded into {nxt.name}")
        elif nxt.op_type == "Relu":
            relu_out = nxt.output[0]
            scaled = relu_out + "_chscaled"
            sname = relu_out + "_chscale"
            add_init(sname, s.reshape(1, -1, 1, 1))
            for c in consumers[relu_out]:
                for k, v in enumerate(c.input):
                    if v == relu_out:
                        c.input[k] = scaled
            mul = helper.make_node("Mul", [relu_out, sname], [scaled], name=nxt.name + "_chscale")
            idx = list(g.node).index(nxt)
            g.node.insert(idx + 1, mul)
            log.append(f"{conv.name}: per-channel scale moved to a Mul after {nxt.name}")
        else:
            raise SystemExit(f"{conv.name}: followed by {nxt.op_type}, cannot move the scale")
    return log


def requantize_after_maxpool(m):
    """Insert, after a MaxPool that feeds a Conv or Gemm, a copy of the Quant that feeds the MaxPool.

    The maximum of values on a quantization grid is on that grid, so the copy changes no value;
    Concrete ML's QAT import wants a quantizer directly in front of each Conv/Gemm.
    """
    g = m.graph
    producers = {o: n for n in g.node for o in n.output}
    log = []
    for n in list(g.node):
        if n.op_type not in ("Conv", "Gemm"):
            continue
        pool = producers.get(n.input[0])
        if pool is None or pool.op_type != "MaxPool":
            continue
        q = producers.get(pool.input[0])
        if q is None or q.op_type != "Quant":
            raise SystemExit(f"{pool.name}: input does not come from a Quant node")
        out = pool.output[0] + "_requant"
        copy = helper.make_node("Quant", [pool.output[0]] + list(q.input[1:]), [out],
                                name=pool.name + "_requant", domain=q.domain)
        copy.attribute.extend(q.attribute)
        n.input[0] = out
        g.node.insert(list(g.node).index(pool) + 1, copy)
        log.append(f"{pool.name}: copy of {q.name or q.output[0]} inserted before {n.name}")
    return log


def prepare(model_name):
    base = MODELS[model_name]
    m = onnx.load(str(base) + ".qonnx.op14.onnx")
    strip_initializer_inputs(m)
    rename_quant_domain(m)
    rewrites = move_per_channel_conv_scales(m) + requantize_after_maxpool(m)
    data = {k: np.load(str(base) + f".{k}.npy") for k in ("input", "calib", "output", "label")}
    return m, data, rewrites


def rounding_arg(spec):
    if spec == "none":
        return None
    if spec.endswith("approx"):
        return {"n_bits": int(spec[: -len("approx")]), "method": "approximate"}
    return int(spec)


def versions():
    import brevitas
    import concrete.fhe
    import concrete.ml
    import torch

    return {
        "python": platform.python_version(),
        "concrete-ml": concrete.ml.__version__,
        "concrete-python": concrete.fhe.__version__,
        "torch": torch.__version__,
        "brevitas": brevitas.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
    }


def machine():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.split("\n")[1]
    except (OSError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem": " ".join(mem.split())}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--rounding", default="none",
                    help="rounding_threshold_bits: none (Concrete ML default), N, or Napprox")
    ap.add_argument("--rows", type=int, default=3, help="rows timed one by one with fhe=execute")
    ap.add_argument("--batch", type=int, default=5, help="rows in one forward(fhe=execute) call; 0 skips")
    ap.add_argument("--deadline", type=float, default=0,
                    help="unix time after which no new encrypted row is started (0: none)")
    ap.add_argument("--out", required=True, help="JSON result file")
    a = ap.parse_args()

    from concrete.ml.torch.compile import compile_onnx_model

    res = {"model": a.model, "rounding_threshold_bits": a.rounding, "p_error": "default (2^-40 per PBS)",
           "versions": versions(), "machine": machine(),
           "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_start": loadavg()}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save():
        res["load_now"] = loadavg()
        out.write_text(json.dumps(res, indent=1, default=str) + "\n")

    def past_deadline():
        return a.deadline and time.time() > a.deadline

    m, d, rewrites = prepare(a.model)
    res["graph_rewrites"] = rewrites
    x, ref, lab, calib = d["input"], d["output"], d["label"], d["calib"]
    res["test_rows"] = int(x.shape[0])

    t = time.perf_counter()
    qm = compile_onnx_model(m, calib, import_qat=True, rounding_threshold_bits=rounding_arg(a.rounding))
    res["compile_s"] = time.perf_counter() - t
    circ = qm.fhe_circuit
    st = circ.statistics
    res["circuit"] = {
        "max_bit_width": int(circ.graph.maximum_integer_bit_width()),
        "pbs_count": int(st["programmable_bootstrap_count"]),
        "pbs_per_parameter": {str(k): v for k, v in st["programmable_bootstrap_count_per_parameter"].items()},
        "keyswitch_count": int(st["key_switch_count"]),
        "p_error": st["p_error"], "global_p_error": st["global_p_error"],
        "size_of_bootstrap_keys": int(st["size_of_bootstrap_keys"]),
        "size_of_keyswitch_keys": int(st["size_of_keyswitch_keys"]),
        "size_of_secret_keys": int(st["size_of_secret_keys"]),
        "size_of_inputs": int(st["size_of_inputs"]), "size_of_outputs": int(st["size_of_outputs"]),
    }
    save()
    print("compiled in %.2fs, max bit width %d, %d PBS" % (res["compile_s"], res["circuit"]["max_bit_width"],
                                                         res["circuit"]["pbs_count"]), flush=True)

    # Clear (fhe=disable) and simulated runs on every test row.
    y_clear = qm.forward(x, fhe="disable")
    q_in = qm.quantize_input(x)
    q_clear = qm.quantized_forward(q_in, fhe="disable")
    t = time.perf_counter()
    q_sim = qm.quantized_forward(q_in, fhe="simulate")
    sim_s = time.perf_counter() - t
    res["clear"] = {
        "max_abs_diff_vs_reference_logits": float(np.abs(y_clear - ref).max()),
        "argmax_agreement_vs_reference": float((y_clear.argmax(1) == ref.argmax(1)).mean()),
        "accuracy_vs_labels": float((y_clear.argmax(1) == lab).mean()),
        "reference_accuracy_vs_labels": float((ref.argmax(1) == lab).mean()),
        "simulate_int_equal_disable_rows": int((q_sim == q_clear).all(axis=1).sum()),
        "simulate_argmax_equal_disable_rows": int((q_sim.argmax(1) == q_clear.argmax(1)).sum()),
        "simulate_s_per_row": sim_s / x.shape[0],
    }
    save()
    print("clear:", res["clear"], flush=True)

    # Key generation and evaluation-key size.
    t = time.perf_counter()
    c1 = cpu_s()
    circ.keygen(force=True)
    res["keygen_s"] = time.perf_counter() - t
    res["keygen_cpu_s"] = cpu_s() - c1
    save()
    t = time.perf_counter()
    ek = circ.keys.evaluation.serialize()
    res["evaluation_key_serialized_bytes"] = len(ek)
    res["evaluation_key_serialize_s"] = time.perf_counter() - t
    del ek
    save()
    print("keygen %.2fs, evaluation keys %d bytes" % (res["keygen_s"], res["evaluation_key_serialized_bytes"]),
          flush=True)

    # Single-sample latency, one row at a time, split into client and server parts.
    rows = []
    res["single"] = rows
    for i in range(min(a.rows, x.shape[0])):
        if past_deadline():
            res["single_stopped"] = f"deadline reached before row {i}"
            break
        load0 = loadavg()
        t0 = time.perf_counter()
        qi = qm.quantize_input(x[i:i + 1])
        enc = circ.encrypt(qi)
        t1 = time.perf_counter()
        c1 = cpu_s()
        r = circ.run(enc)
        c2 = cpu_s()
        t2 = time.perf_counter()
        qo = circ.decrypt(r)
        y = qm.post_processing(qm.dequantize_output(qo))
        t3 = time.perf_counter()
        rows.append({
            "row": i, "encrypt_s": t1 - t0, "run_s": t2 - t1, "decrypt_s": t3 - t2, "total_s": t3 - t0,
            "run_cpu_s": c2 - c1,
            "int_equal_disable": bool((qo == q_clear[i:i + 1]).all()),
            "int_equal_simulate": bool((qo == q_sim[i:i + 1]).all()),
            "argmax": int(np.argmax(y)), "argmax_reference": int(ref[i].argmax()), "label": int(lab[i]),
            "load_before": load0, "load_after": loadavg(),
        })
        save()
        print("row", i, rows[-1], flush=True)
    if rows:
        tot = [r["total_s"] for r in rows]
        res["single_mean_total_s"] = float(np.mean(tot))
        res["single_mean_run_s"] = float(np.mean([r["run_s"] for r in rows]))

    # Batch throughput through Concrete ML's own API (it loops sample by sample).
    if a.batch > 0 and not past_deadline():
        b = min(a.batch, x.shape[0])
        load0 = loadavg()
        t = time.perf_counter()
        c1 = cpu_s()
        yb = qm.forward(x[:b], fhe="execute")
        el = time.perf_counter() - t
        cpu = cpu_s() - c1
        res["batch"] = {
            "rows": b, "wall_s": el, "samples_per_s": b / el, "cpu_s": cpu,
            "argmax_equal_disable": int((yb.argmax(1) == y_clear[:b].argmax(1)).sum()),
            "logits_equal_disable": int(np.isclose(yb, y_clear[:b], rtol=0, atol=1e-6).all(axis=1).sum()),
            "load_before": load0, "load_after": loadavg(),
        }
        save()
        print("batch", res["batch"], flush=True)

    res["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save()


if __name__ == "__main__":
    sys.exit(main())
