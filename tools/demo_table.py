#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prints tools/demo.sh's table from weft_bench_core's JSON (medians of the repetitions).

    tools/demo_table.py RAW.json WORKERS

One row per workload: the serial floor (plain recursion, no spawns: what the compiler
makes of the bare arithmetic), weft on WORKERS workers and its speedup over weft on one
worker, then oneTBB and Boost.Fiber measured in the same run, each with the ratio
peer time / weft time (above 1: weft is faster). A run the workload lacks shows "-".
"""
import json
import math
import sys

# (label, serial, weft on 1 worker, weft, tbb, fiber runs); {n} is the worker count.
ROWS = [
    ("fib(30), spawn per call", "BM_fib/serial/workers:1", "BM_fib/weft/workers:1",
     "BM_fib/weft/workers:{n}", "BM_fib/tbb/workers:{n}", None),
    ("fib(25), spawn per call", None, "BM_fib_small/weft/workers:1",
     "BM_fib_small/weft/workers:{n}", "BM_fib_small/tbb/workers:{n}",
     "BM_fib_small/boost_fiber/workers:{n}"),
    ("skynet, 100k leaves", "BM_skynet/serial/leaves:100000/workers:1", None,
     "BM_skynet/weft/leaves:100000/workers:{n}", "BM_skynet/tbb/leaves:100000/workers:{n}",
     "BM_skynet/boost_fiber/leaves:100000/workers:{n}"),
    ("skynet, 1M leaves", "BM_skynet/serial/leaves:1000000/workers:1",
     "BM_skynet/weft/leaves:1000000/workers:1", "BM_skynet/weft/leaves:1000000/workers:{n}",
     "BM_skynet/tbb/leaves:1000000/workers:{n}", None),
]


def medians(path):
    """run name without the /min_time, /iterations and /manual_time parts -> median ms."""
    with open(path) as f:
        data = json.load(f)
    times = {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        name = "/".join(p for p in b["run_name"].split("/")
                        if not p.startswith(("min_time:", "iterations:", "repeats:"))
                        and p not in ("manual_time", "real_time"))
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
        ms = b["real_time"] * scale
        # With repetitions the median aggregate wins; a single run stands for itself.
        if b.get("aggregate_name") == "median" or name not in times:
            times[name] = ms
    return times


def main():
    raw, workers = sys.argv[1], int(sys.argv[2])
    t = medians(raw)
    get = lambda key: t.get(key.format(n=workers)) if key else None
    # Three significant digits or more, never an exponent.
    fmt = lambda ms: (f"{ms:8.{max(0, 2 - int(math.floor(math.log10(ms))))}f}" if ms else
                      f"{'-' if ms is None else 0:>8}")
    ratio = lambda peer, weft: f"{peer / weft:7.2f}x" if peer and weft else f"{'-':>8}"
    print(f"{'workload':<25}{'serial':>8}{'weft':>8}{'speedup':>9}"
          f"{'oneTBB':>8}{'TBB/weft':>9}{'B.Fiber':>9}{'Fib/weft':>9}")
    for label, serial, weft1, weft, tbb, fiber in ROWS:
        s, w1, w, b, f = get(serial), get(weft1), get(weft), get(tbb), get(fiber)
        print(f"{label:<25}{fmt(s)}{fmt(w)}{ratio(w1, w):>9}{fmt(b)}{ratio(b, w):>9}"
              f"{fmt(f):>9}{ratio(f, w):>9}")


if __name__ == "__main__":
    main()
