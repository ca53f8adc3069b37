#!/usr/bin/env python3
"""Print a Markdown table of the Concrete ML results in bench/concreteml/results/*.json.

Usage: python3 bench/concreteml/summarize.py [results-dir]   (standard library only)
"""

import glob
import json
import os
import sys


def fmt(v, nd=1):
    return "-" if v is None else f"{v:.{nd}f}"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "results")
    print("| run | rounding | max bits | PBS | compile s | keygen s | eval key MB serialized / in memory | "
          "latency s, each row (encrypt+run+decrypt) | mean s | mean s w/o 1st | run CPU s/row w/o 1st | "
          "batch samples/s | "
          "exec = disable (ints) | clear argmax = reference | load 1-min |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for f in sorted(glob.glob(os.path.join(d, "*.json"))):
        r = json.load(open(f))
        name = os.path.basename(f)[:-5]
        c = r.get("circuit", {})
        rows = r.get("single", [])
        tot = [x["total_s"] for x in rows]
        mean = sum(tot) / len(tot) if tot else None
        rest = tot[1:]
        mean_rest = sum(rest) / len(rest) if rest else None
        cpu = [x["run_cpu_s"] for x in rows if "run_cpu_s" in x]
        cpu = cpu[1:] if len(cpu) > 1 else cpu
        cpu_s = fmt(sum(cpu) / len(cpu)) if cpu else "-"
        if len(rows) == 1 and cpu:
            cpu_s += " (1st row)"
        each = ", ".join(fmt(t) for t in tot) or r.get("single_stopped", "not finished")
        b = r.get("batch")
        bsps = f"{b['samples_per_s']:.4f} ({b['rows']} rows, {b['wall_s']:.0f} s)" if b else "-"
        eq = sum(x["int_equal_disable"] for x in rows)
        eq_s = f"{eq}/{len(rows)}"
        if b:
            eq_s += f"; batch argmax {b['argmax_equal_disable']}/{b['rows']}"
        cl = r.get("clear", {})
        agree = cl.get("argmax_agreement_vs_reference")
        loads = [x["load_before"][0] for x in rows] + [x["load_after"][0] for x in rows]
        if b:
            loads += [b["load_before"][0], b["load_after"][0]]
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"
        ek = r.get("evaluation_key_serialized_bytes")
        mem_keys = c.get("size_of_bootstrap_keys", 0) + c.get("size_of_keyswitch_keys", 0)
        print(f"| {name} | {r.get('rounding_threshold_bits')} | {c.get('max_bit_width', '-')} | "
              f"{c.get('pbs_count', '-')} | {fmt(r.get('compile_s'))} | {fmt(r.get('keygen_s'))} | "
              f"{fmt(ek / 1e6 if ek else None, 0)} / {fmt(mem_keys / 1e6 if mem_keys else None, 0)} | {each} | {fmt(mean)} | {fmt(mean_rest)} | {cpu_s} | {bsps} | "
              f"{eq_s} | {fmt(agree * 100 if agree is not None else None)}% | {load} |")


if __name__ == "__main__":
    main()
