#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turns weft_bench_core / weft_bench_echo JSON into bench/RESULTS.md and bench/charts/*.png.

Called by tools/bench-report; usable alone:
    tools/bench_plot.py --out bench

Data sets live in OUT/data/<slug>/ (one per machine label): the benchmark JSON files
(*.json, Google Benchmark's format with every repetition) and machine.txt (the machine's
description). The data set "default" (this machine) gets the full tables and bar charts;
every data set adds its curves to the speedup charts.

Benchmark names are BM_<workload>/<implementation>[/<arg>:<value>...]; runs that differ
only in the implementation are compared with each other. For each implementation the
table gives the median over the repetitions of the workload's figure, the min-max, and
the ratio to the best peer: the fastest implementation other than weft's and the serial
floor in the same comparison.
"""

import argparse
import glob
import json
import math
import os
import re
import statistics
import sys
from collections import OrderedDict, defaultdict

# workload -> (title, figure, unit, higher_is_better, extra counters shown, group-ignored args)
# figure: a counter name, or "time" for the benchmark's own (manual/real) time.
WORKLOADS = OrderedDict([
    ("BM_switch", ("1. switch: one-way context switch", "ns_per_switch", "ns", False, [], [])),
    ("BM_yield_pingpong", ("1. switch: yield ping-pong, two coroutines on one worker",
                           "ns_per_yield", "ns", False, ["switches_per_yield"], [])),
    ("BM_spawn_join", ("2. spawn_join: spawn + join of an empty task, one worker",
                       "ns_per_task", "ns", False, ["switches_per_task"], [])),
    ("BM_spawn_join_batch64", ("2. spawn_join: 64 spawns, then 64 joins, one worker",
                               "ns_per_task", "ns", False, ["switches_per_task"], [])),
    ("BM_fib", ("3. fib(30), a spawn per call", "time", "ms", False,
                ["ns_per_task", "speedup", "steals"], [])),
    ("BM_fib_small", ("3. fib(25), a spawn per call (with Boost.Fiber)", "time", "ms", False,
                      ["ns_per_task", "speedup"], [])),
    ("BM_skynet", ("4. skynet: 10-ary tree of spawns, sum of the leaves", "time", "ms", False,
                   ["ns_per_task", "peak_rss_MiB", "speedup"], [])),
    ("BM_parallel_for", ("5. parallel_for: 10M light iterations in chunks of `grain`", "time",
                         "ms", False, ["ns_per_chunk", "speedup"], [])),
    ("BM_pingpong", ("6. pingpong: a token through two one-slot channels, per one-way pass",
                     "ns_per_msg", "ns", False, ["steals_per_msg"], [])),
    ("BM_idle_wake", ("7. idle_wake: outside spawn -> running, pool parked", "p50_us", "us",
                      False, ["p99_us", "idle_cpu_pct", "wake_cpu_pct"], [])),
    ("BM_live", ("8. live: create N suspended coroutines, then release them",
                 "ns_per_coroutine", "ns", False,
                 ["KiB_per_coroutine", "live_rss_MiB", "peak_rss_MiB", "create_ms", "release_ms"],
                 ["count", "workers"])),
    ("BM_mutex_contended", ("sync: contended mutex, per lock+unlock", "ns_per_lock", "ns", False,
                            [], [])),
    ("BM_sleep_lateness", ("sync: sleep_for(100us) lateness", "late_us_p50", "us", False,
                           ["late_us_p99"], [])),
    ("BM_echo", ("echo: TCP echo round trips, N connections (weft_bench_echo)", "rt_per_s",
                 "round trips/s", True, ["p50_us", "p99_us", "MB_per_s"], [])),
])
# What each workload's rows mean beyond the name (shown under its table's heading).
WORKLOAD_NOTES = {
    "BM_switch": "weft: `weft_switch` (asm/switch_x86_64.S) called directly between the "
                 "benchmark thread and one context on a 64 KiB stack; boost_context: "
                 "`boost::context::fiber::resume`. Both save the callee-saved registers, "
                 "MXCSR and the x87 control word. Figure: per one-way switch (half a round "
                 "trip).",
    "BM_yield_pingpong": "Two coroutines on one worker each yield 10,000 times; weft_yield_to "
                         "hands over with `weft::yield_to`. Boost.Fiber: its default "
                         "round_robin on the benchmark thread.",
    "BM_spawn_join": "weft: workers=1, a child joined before it starts runs inline; tbb: "
                     "task_group run+wait in a task_arena(1); omp: task + taskwait in a team "
                     "of 1; boost_fiber: pooled 64 KiB stacks; std_thread: 1,024 threads per "
                     "iteration instead of 10,240.",
    "BM_fib": "No serial cutoff anywhere. OpenMP: the runtime itself runs a task undeferred "
              "when its queue is long (libgomp: more than 64 x threads queued tasks); that "
              "throttle is the runtime's, not ours.",
    "BM_fib_small": "Boost.Fiber allocates a 64 KiB stack per call (fixedsize_stack, shared "
                    "safely across threads), so it runs fib(25) here; it is run in a child "
                    "process per measurement (work_stealing(W, suspend=true); round_robin at "
                    "W=1).",
    "BM_skynet": "Every node spawns its 10 children and joins them (no cutoff). One child "
                 "process per measurement; peak_rss_MiB is its VmHWM (the process with its "
                 "libraries, ~5 MiB before any work). Boost.Fiber runs at 100k leaves only: "
                 "its FIFO scheduling keeps every fiber of the tree alive at once, each with a "
                 "malloc'ed 64 KiB stack (about 10 GiB and 25 s at 1M leaves here).",
    "BM_parallel_for": "Each chunk hashes its indices (splitmix64) and adds the sum to its "
                       "thread's own padded slot (weft, tbb) or an OpenMP reduction. weft: "
                       "recursive halving with a spawn per split; tbb: parallel_for with "
                       "simple_partitioner at the grain; omp: schedule(dynamic, grain).",
    "BM_pingpong": "weft at workers=2: a coroutine cannot be pinned, and a woken coroutine "
                   "runs next on its waker's worker, so the pair mostly stays on one worker; "
                   "steals_per_msg counts how often the other worker took one. std_thread: "
                   "mutex + condition_variable queues, 100,000 passes.",
    "BM_idle_wake": "The pool has N workers; a plain thread sleeps 2 ms (the workers park), "
                    "then hands over work and waits for it to start, 200 samples. weft: "
                    "`Scheduler::spawn`; tbb: `task_arena::enqueue`; boost_fiber: a fiber "
                    "blocked on a buffered_channel that the outside thread pushes to (a fiber "
                    "cannot be spawned onto another thread's scheduler), suspend=true; "
                    "boost_fiber_spin: Boost's default suspend=false. idle_cpu_pct: process "
                    "CPU over 200 ms with no work (100 = one core busy); wake_cpu_pct: over "
                    "the sampling window.",
    "BM_echo": "From weft_bench_echo (bench/bench_echo.cpp): the weft echo server (a "
               "coroutine per connection) against a thread per connection; the argument is "
               "the number of connections, all in flight at once.",
    "BM_live": "Each coroutine counts itself on a WaitGroup and waits on one Event (16 KiB "
               "stacks); once all are suspended the RSS is read, the Event set and every Task "
               "joined. Boost.Fiber: 100,000 fibers with 16 KiB fixedsize stacks waiting on a "
               "fiber condition variable. One child process per measurement.",
}

# Anything else (e.g. weft_bench_echo's benchmarks): the time, plus these counters if present.
GENERIC_EXTRAS = ["rt_per_s", "p50_us", "p99_us"]

NOT_PEERS = ("weft", "serial")  # implementations that are not "peers" for the ratio

SPEEDUP_WORKLOADS = ["BM_fib", "BM_fib_small", "BM_skynet", "BM_parallel_for"]

STRIP = re.compile(r"^(manual_time|real_time|iterations:\d+|min_time:.*|repeats:\d+|threads:\d+)$")


def is_weft(impl):
    return impl == "weft" or impl.startswith("weft_")


def is_peer(impl):
    return not is_weft(impl) and impl != "serial"


def parse_name(run_name):
    parts = [p for p in run_name.split("/") if not STRIP.match(p)]
    workload = parts[0]
    impl = parts[1] if len(parts) > 1 else "-"
    args = OrderedDict()
    for i, a in enumerate(parts[2:]):
        if ":" in a:
            k, v = a.split(":", 1)
        else:
            k, v = "arg%d" % i, a
        args[k] = v
    return workload, impl, args


def load_runs(paths):
    """-> list of dicts: workload, impl, args, reps: [ {figure...} ], errors, unit."""
    runs = OrderedDict()
    context = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        context.setdefault("context", data.get("context", {}))
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate":
                continue
            run_name = b.get("run_name", b["name"])
            workload, impl, args = parse_name(run_name)
            key = (workload, impl, tuple(args.items()))
            r = runs.setdefault(key, {"workload": workload, "impl": impl, "args": args,
                                      "reps": [], "errors": []})
            if b.get("error_occurred"):
                r["errors"].append(b.get("error_message", "error"))
                continue
            rep = {k: v for k, v in b.items() if isinstance(v, (int, float))}
            rep["time_unit"] = b.get("time_unit", "ns")
            rep["label"] = b.get("label", "")
            r["reps"].append(rep)
    return list(runs.values()), context.get("context", {})


TIME_SCALE = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def figure_of(rep, figure, unit):
    """The figure of one repetition, in `unit` for times."""
    if figure == "time":
        t = rep.get("real_time")
        if t is None:
            return None
        return t * TIME_SCALE[rep["time_unit"]] / TIME_SCALE[unit]
    return rep.get(figure)


def stats(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(v, sep=True):
    if v is None:
        return "-"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return "{:,.0f}".format(v) if sep else "%.0f" % v
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3g" % v


# Names for benchmarks whose argument is a bare number.
BARE_ARG_NAMES = {"BM_echo": "connections", "BM_mutex_contended": "parties"}


def group_label(args, ignored, workload=None):
    items = [(k, v) for k, v in args.items() if k not in ignored]
    items = [(BARE_ARG_NAMES.get(workload, k) if k == "arg0" else k, v) for k, v in items]
    return ", ".join("%s=%s" % (k, v) if not k.startswith("arg") else v for k, v in items) or "-"


def workload_spec(workload):
    if workload in WORKLOADS:
        return WORKLOADS[workload]
    return (workload, "time", None, False, GENERIC_EXTRAS, [])


def summarize(runs):
    """-> OrderedDict workload -> OrderedDict group -> list of row dicts."""
    out = OrderedDict()
    order = list(WORKLOADS.keys())
    runs = sorted(runs, key=lambda r: order.index(r["workload"]) if r["workload"] in order
                  else len(order))
    for r in runs:
        title, figure, unit, higher, extras, ignored = workload_spec(r["workload"])
        if unit is None:  # generic: the benchmark's own unit
            unit = r["reps"][0]["time_unit"] if r["reps"] else "ms"
        group = group_label(r["args"], ignored, r["workload"])
        st = stats([figure_of(rep, figure, unit) for rep in r["reps"]])
        row = {"impl": r["impl"], "args": r["args"], "n": len(r["reps"]), "errors": r["errors"],
               "stat": st, "unit": unit, "figure": figure, "higher": higher,
               "extras": OrderedDict(), "reps": r["reps"]}
        for e in extras:
            es = stats([rep.get(e) for rep in r["reps"]])
            if es is not None:
                row["extras"][e] = es[0]
        if r["workload"] == "BM_live":
            row["impl_label"] = "%s (count=%s, workers=%s)" % (
                r["impl"], r["args"].get("count", "?"), r["args"].get("workers", "?"))
        out.setdefault(r["workload"], OrderedDict()).setdefault(group, []).append(row)
    # The serial floor (one run, workers=1, grain=0) joins every row group that differs
    # from its own only in those arguments; row groups left with the floor alone go.
    for workload, groups in out.items():
        floors = [(g, x) for g, rows in groups.items() for x in rows if x["impl"] == "serial"]
        if not floors:
            continue
        ignored = workload_spec(workload)[5] + ["workers", "grain"]
        placed = set()
        for g, rows in groups.items():
            key = group_label(rows[0]["args"], ignored)
            for fg, fx in floors:
                if fg != g and group_label(fx["args"], ignored) == key and fx not in rows:
                    rows.append(fx)
                    placed.add(fg)
        for fg in placed:
            if all(x["impl"] == "serial" for x in groups[fg]):
                del groups[fg]
    # row groups in the order of their numeric arguments
    for workload in list(out.keys()):
        groups = out[workload]

        def order_key(item):
            key = []
            for v in item[1][0]["args"].values() if item[1] else []:
                try:
                    key.append((0, float(v), ""))
                except ValueError:
                    key.append((1, 0.0, v))
            return key
        out[workload] = OrderedDict(sorted(groups.items(), key=order_key))
    # ratios to the best peer of each group
    for workload, groups in out.items():
        for group, rows in groups.items():
            peers = [x for x in rows if is_peer(x["impl"]) and x["stat"]]
            best = None
            if peers:
                pick = max if rows[0]["higher"] else min
                best = pick(peers, key=lambda x: x["stat"][0])
            for x in rows:
                x["best_peer"] = best
                x["ratio"] = (x["stat"][0] / best["stat"][0]
                              if best and x["stat"] and best["stat"][0] else None)
    return out


def speedups(runs):
    """-> {(workload, group-without-workers, impl): {workers: median time}}"""
    curves = defaultdict(dict)
    for r in runs:
        if r["workload"] not in SPEEDUP_WORKLOADS or "workers" not in r["args"]:
            continue
        st = stats([figure_of(rep, "time", "ms") for rep in r["reps"]])
        if not st:
            continue
        rest = group_label(r["args"], ["workers"])
        curves[(r["workload"], rest, r["impl"])][int(r["args"]["workers"])] = st[0]
    return curves


# ---------------------------------------------------------------- Markdown


def markdown_tables(summary):
    lines = []
    for workload, groups in summary.items():
        title, figure, unit, higher, extras, ignored = workload_spec(workload)
        unit = next(iter(groups.values()))[0]["unit"]
        fig_name = ("time (%s)" % unit) if figure == "time" else "%s" % figure
        lines.append("### %s" % title)
        lines.append("")
        lines.append("`%s`: %s%s; ratio = median / median of the best peer (marked *) in the "
                     "same row group, %s." % (workload, fig_name,
                                              " (higher is better)" if higher else "",
                                              "above 1 means slower" if not higher else
                                              "below 1 means worse"))
        lines.append("")
        if workload in WORKLOAD_NOTES:
            lines.append(WORKLOAD_NOTES[workload])
            lines.append("")
        ex_cols = []
        for rows in groups.values():
            for x in rows:
                for e in x["extras"]:
                    if e not in ex_cols:
                        ex_cols.append(e)
        head = ["args", "implementation", "median", "min–max", "ratio"] + ex_cols
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for group, rows in groups.items():
            rows = sorted(rows, key=lambda x: (x["stat"] is None,
                                               -(x["stat"][0]) if x["stat"] and higher else
                                               (x["stat"][0] if x["stat"] else 0)))
            for x in rows:
                name = x.get("impl_label", x["impl"])
                if x["best_peer"] is x:
                    name += " *"
                if is_weft(x["impl"]):
                    name = "**%s**" % name
                if x["stat"] is None:
                    med, rng = "error" if x["errors"] else "-", (x["errors"][0] if x["errors"]
                                                                 else "")
                    ratio = "-"
                else:
                    med = fmt(x["stat"][0])
                    rng = "%s–%s" % (fmt(x["stat"][1]), fmt(x["stat"][2]))
                    ratio = ("%.2fx" % x["ratio"]) if x["ratio"] is not None else "-"
                cells = [group, name, med, rng, ratio] + [fmt(x["extras"].get(e)) for e in ex_cols]
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def find(summary, workload, impl, **args):
    for group, rows in summary.get(workload, {}).items():
        for x in rows:
            if x["impl"] != impl:
                continue
            if all(str(x["args"].get(k)) == str(v) for k, v in args.items()):
                return x
    return None


def target_rows(summary, curves):
    """Issue 4's targets: (workload, weft figure, best peer figure, ratio, target, verdict)."""
    out = []

    def med(x):
        return x["stat"][0] if x and x["stat"] else None

    def row(name, weft, peer, peer_name, unit, limit, extra_ok=True, extra_note="",
            goal=None):
        w, p = med(weft), med(peer)
        goal = goal or "<= %sx" % ("%.2f" % limit).rstrip("0").rstrip(".")
        if w is None or p is None:
            out.append((name, fmt(w), "-", "-", goal, "not measured"))
            return
        ratio = w / p
        ok = ratio <= limit and extra_ok
        overlap = weft["stat"][1] <= peer["stat"][2] and peer["stat"][1] <= weft["stat"][2]
        out.append((name, "%s %s (%s–%s)%s" % (fmt(w), unit, fmt(weft["stat"][1]),
                                                fmt(weft["stat"][2]), extra_note),
                    "%s %s %s (%s–%s)" % (peer_name, fmt(p), unit, fmt(peer["stat"][1]),
                                          fmt(peer["stat"][2])),
                    "%.2fx" % ratio, goal,
                    ("met" if ok else "missed") + (" (ranges overlap)" if overlap else "")))

    sw = find(summary, "BM_switch", "weft")
    row("one-way switch", sw, find(summary, "BM_switch", "boost_context"), "Boost.Context",
        "ns", 1.1)
    row("yield ping-pong, one worker", find(summary, "BM_yield_pingpong", "weft"),
        find(summary, "BM_yield_pingpong", "boost_fiber"), "Boost.Fiber", "ns", 1 / 3)
    w = find(summary, "BM_spawn_join", "weft")
    row("spawn+join empty, 1 worker", w, w and w["best_peer"],
        w and w["best_peer"] and w["best_peer"]["impl"], "ns", 1.0)
    w = find(summary, "BM_fib", "weft", workers=2)
    c = curves.get(("BM_fib", "-", "weft"), {})
    sp = c[1] / c[2] if 1 in c and 2 in c else None
    sp_lo = sp_hi = None
    w1 = find(summary, "BM_fib", "weft", workers=1)
    if sp is not None and w1 and w1["stat"] and w["stat"]:
        # the speedup's spread: best and worst pairing of the two ranges
        sp_lo, sp_hi = w1["stat"][1] / w["stat"][2], w1["stat"][2] / w["stat"][1]
    bp = w and w["best_peer"]
    row("fib(30), 2 workers", w, bp, bp and bp["impl"], "ms", 1.0,
        extra_ok=sp is not None and sp >= 1.9,
        extra_note=", speedup %s" % (("%.2fx (%.2f–%.2f)" % (sp, sp_lo, sp_hi)) if sp and sp_lo else "-"),
        goal="<= 1x, speedup >= 1.9x")
    if sp is not None and sp > 2 * 1.1 and out:
        time_ok = w and bp and w["stat"] and bp["stat"] and w["stat"][0] <= bp["stat"][0]
        out[-1] = out[-1][:5] + ("time %s; speedup not credible (above 2 workers: the "
                                 "1-worker runs were disturbed)" % ("met" if time_ok else
                                                                    "missed"),)
    w = find(summary, "BM_skynet", "weft", leaves=1000000, workers=2)
    bp = w and w["best_peer"]
    rss = w["extras"].get("peak_rss_MiB") if w else None
    prss = bp["extras"].get("peak_rss_MiB") if bp else None
    row("skynet 1M, 2 workers", w, bp, bp and bp["impl"], "ms", 1.0,
        extra_ok=rss is not None and rss <= 32,
        extra_note=", peak RSS %s MiB (peer %s MiB)" % (fmt(rss), fmt(prss)),
        goal="<= 1x, peak RSS <= 32 MiB")
    live = None
    for rows in summary.get("BM_live", {}).values():
        for x in rows:
            if x["impl"] == "weft":
                live = x
    if live and live["stat"]:
        rss = live["extras"].get("peak_rss_MiB")
        cnt = live["args"].get("count")
        ok = rss is not None and rss <= 5 * 1024 and cnt == "1000000" and not live["errors"]
        out.append(("%s coroutines suspended at once" % cnt,
                    "peak RSS %s MiB, %s KiB each, %s ms" % (
                        fmt(rss), fmt(live["extras"].get("KiB_per_coroutine")),
                        fmt(live["extras"].get("create_ms", 0) +
                            live["extras"].get("release_ms", 0))),
                    "(Go: 2 KiB/goroutine)", "-", "works, <= 5 GiB", "met" if ok else "missed"))
    w = find(summary, "BM_idle_wake", "weft")
    row("idle pool, outside spawn -> running (p50)", w, find(summary, "BM_idle_wake", "tbb"),
        "oneTBB", "us", 1.0)
    if w:
        cpu = w["extras"].get("idle_cpu_pct")
        spin = find(summary, "BM_idle_wake", "boost_fiber_spin")
        spin_cpu = spin["extras"].get("idle_cpu_pct") if spin else None
        out.append(("idle pool CPU (100% = one core)", "%s%%" % fmt(cpu),
                    "Boost.Fiber default %s%%" % fmt(spin_cpu), "-", "~0 (<= 1%)",
                    "met" if cpu is not None and cpu <= 1.0 else "missed"))
    return out


def machine_text(data_dir):
    p = os.path.join(data_dir, "machine.txt")
    if os.path.exists(p):
        with open(p) as f:
            return f.read().strip()
    return "(no machine.txt)"


def load_warning(data_dir):
    """A warning line when the load average around the run exceeded the CPU count."""
    text = machine_text(data_dir)
    m = re.search(r"nproc=(\d+)", text)
    loads = [float(x) for x in re.findall(r"load average (?:before|after): ([0-9.]+)", text)]
    if not m or not loads:
        return ""
    cpus = int(m.group(1))
    if max(loads) <= cpus:
        return ""
    return ("**Busy machine:** the 1-minute load average was %s before and after the run on "
            "%d CPUs (other jobs were running), so threads were preempted: expect wide "
            "min–max ranges, most of all in the multi-worker and 1-worker-on-a-thread runs. "
            "Rerun `tools/bench-report` on a quiet machine for clean figures." % (
                " / ".join("%.1f" % l for l in loads), cpus))


def write_markdown(out_dir, sets, summary, curves, charts, notes):
    default = sets[0]
    lines = ["# weft benchmark results", ""]
    lines.append("Generated by `tools/bench-report` from the JSON in `bench/data/`; regenerate "
                 "with `tools/bench-report` (see the end of this file). Every figure below "
                 "was measured; weft and its peers ran in the same binary, in the same run.")
    lines.append("")
    lines.append("The fork-join table of issue #10 (TaskGroup, parallel_for, parallel_reduce "
                 "beside oneTBB, OpenMP and two serial floors) is [FORKJOIN.md](FORKJOIN.md), "
                 "written by `tools/bench-forkjoin --out bench/FORKJOIN.md`.")
    lines.append("")
    lines.append("## Machine")
    lines.append("")
    lines.append("```")
    lines.append(machine_text(default["dir"]))
    lines.append("```")
    lines.append("")
    busy = load_warning(default["dir"])
    if busy:
        lines.append(busy)
        lines.append("")
    lines.append("## Issue 4 targets")
    lines.append("")
    lines.append("weft and best peer: median (min–max over the repetitions). \"ranges overlap\": "
                 "the two min–max ranges overlap, so the verdict is within this run's noise.")
    lines.append("")
    lines.append("| target | weft | best peer (same run) | ratio | goal | verdict |")
    lines.append("|---|---|---|---|---|---|")
    for t in target_rows(summary, curves):
        lines.append("| " + " | ".join(t) + " |")
    lines.append("")
    if notes:
        lines.append(notes.strip())
        lines.append("")
    lines.append("## How to read")
    lines.append("")
    lines.append(
        "- median and min–max are over the repetitions (each repetition is one Google "
        "Benchmark run of the benchmark: for child-process workloads one fresh process).\n"
        "- **weft** rows are bold; * marks the best peer of the row group; ratio is the "
        "median over the best peer's median.\n"
        "- Peers: oneTBB (task_group, parallel_for with simple_partitioner, task_arena), "
        "Boost.Fiber (work_stealing with suspend=true for several workers, round_robin for "
        "one; Boost's default suspend=false spins, shown in idle_wake as boost_fiber_spin), "
        "Boost.Context (fiber), OpenMP tasks (the compiler's runtime), std::thread, and the "
        "serial floor.\n"
        "- skynet, idle_wake, live, Boost.Fiber's multi-worker runs: one child process per "
        "measurement (warm-up run, then the median of up to 3 runs); peak_rss_MiB is that "
        "process's VmHWM, libraries included.\n"
        "- speedup = the implementation's own median time at 1 worker / its median time at W.\n"
        "- The machine section gives the load average before and after the run: this VM "
        "is shared, and a busy neighbour shows up as noise, mostly in the 2-worker runs.")
    lines.append("")
    lines.append("## Charts")
    lines.append("")
    for c in charts:
        lines.append("![%s](charts/%s)" % (c, c))
        lines.append("")
    lines.append("## Tables")
    lines.append("")
    lines.extend(markdown_tables(summary))
    for s in sets[1:]:
        lines.append("## Other machine: %s" % s["slug"])
        lines.append("")
        lines.append("```")
        lines.append(machine_text(s["dir"]))
        lines.append("```")
        lines.append("")
        lines.extend(markdown_tables(s["summary"]))
    lines.append("## Reproduce")
    lines.append("")
    lines.append("```")
    lines.append("bash tools/setup.sh")
    lines.append("tools/bench-report                      # release build, 3 repetitions, "
                 "this file + charts")
    lines.append("tools/bench-report --label '16-core X'  # another machine: adds its data set "
                 "and speedup curves")
    lines.append("tools/bench-report --report-only        # redraw from bench/data/")
    lines.append("```")
    lines.append("")
    with open(os.path.join(out_dir, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))


# ---------------------------------------------------------------- charts

COLORS = {"weft": "#d62728", "weft_yield_to": "#ff7f0e", "weft_lifo_join": "#ff9896",
          "tbb": "#1f77b4", "omp": "#2ca02c", "boost_fiber": "#9467bd",
          "boost_fiber_spin": "#c5b0d5", "boost_context": "#8c564b", "std_thread": "#7f7f7f",
          "std": "#7f7f7f", "threads": "#7f7f7f", "thread": "#7f7f7f", "serial": "#17becf"}


def color(impl, i):
    return COLORS.get(impl, "C%d" % (i % 10))


def bar_chart(plt, ax, groups, value_of, ylabel, title):
    group_names = list(groups.keys())
    impls = []
    for rows in groups.values():
        for x in rows:
            if x["impl"] not in impls:
                impls.append(x["impl"])
    # weft first, then peers, serial last
    impls.sort(key=lambda i: (0 if is_weft(i) else 2 if i == "serial" else 1, i))
    width = 0.8 / max(1, len(impls))
    vals_all = []
    tops = []
    nbars = sum(len(rows) for rows in groups.values())
    for j, impl in enumerate(impls):
        xs, ys, lo, hi = [], [], [], []
        for i, g in enumerate(group_names):
            x = next((r for r in groups[g] if r["impl"] == impl), None)
            v = value_of(x) if x else None
            if v is None:
                continue
            med, mn, mx = v
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(med)
            lo.append(max(0, med - mn))
            hi.append(max(0, mx - med))
            vals_all.append(med)
            tops.append(mx)
        if xs:
            first = next((r for rows in groups.values() for r in rows if r["impl"] == impl), {})
            ax.bar(xs, ys, width, yerr=[lo, hi], label=first.get("impl_label", impl),
                   color=color(impl, j), capsize=2, edgecolor="black", linewidth=0.4,
                   error_kw={"elinewidth": 0.8})
            for xx, yy, top in zip(xs, ys, [y + h for y, h in zip(ys, hi)]):
                ax.text(xx, top, fmt(yy, sep=False), ha="center", va="bottom", fontsize=6,
                        rotation=0 if nbars <= 8 else 90)
    ax.set_xticks(range(len(group_names)))
    ax.set_xticklabels([g if g != "-" else "" for g in group_names], fontsize=7,
                       rotation=20 if len(group_names) > 4 else 0)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    pos = [v for v in vals_all if v > 0]
    top = max([t for t in tops if t and t > 0] + pos) if pos else None
    if pos and max(pos) / min(pos) > 30:
        ax.set_yscale("log")
        ax.set_ylim(min(pos) / 2, top * 10)
    elif pos:
        ax.set_ylim(0, top * 1.3)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=6, ncol=2)
    ax.grid(axis="y", alpha=0.3)


def draw_charts(out_dir, sets, label):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts_dir = os.path.join(out_dir, "charts")
    os.makedirs(charts_dir, exist_ok=True)
    for old in glob.glob(os.path.join(charts_dir, "*.png")):
        os.remove(old)
    summary = sets[0]["summary"]
    made = []
    # one figure per workload: the main figure, plus one panel per secondary figure worth a bar
    secondary = {"BM_skynet": [("peak_rss_MiB", "peak RSS (MiB)")],
                 "BM_live": [("KiB_per_coroutine", "RSS per suspended coroutine (KiB)")],
                 "BM_idle_wake": [("p99_us", "p99 (us)"), ("idle_cpu_pct",
                                                           "idle CPU (% of one core)")]}
    for workload, groups in summary.items():
        title, figure, unit, higher, extras, ignored = workload_spec(workload)
        unit = next(iter(groups.values()))[0]["unit"]
        panels = [(None, ("time (%s)" % unit) if figure == "time" else
                   "%s (%s)" % (figure, unit) if unit else figure)]
        panels += secondary.get(workload, [])
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 + 3.3 * len(panels) +
                                                         0.5 * len(groups), 4.2), squeeze=False)
        for ax, (counter, ylabel) in zip(axes[0], panels):
            if counter is None:
                bar_chart(plt, ax, groups, lambda x: x["stat"], ylabel + (
                    ", lower is better" if not higher else ", higher is better"), title)
            else:
                def val(x, c=counter):
                    return stats([rep.get(c) for rep in x["reps"]])
                bar_chart(plt, ax, groups, val, ylabel, counter)
        fig.suptitle("%s — %s" % (workload, label), fontsize=8)
        fig.tight_layout()
        name = "%s.png" % workload[3:] if workload.startswith("BM_") else workload + ".png"
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        fig.savefig(os.path.join(charts_dir, name), dpi=110)
        plt.close(fig)
        made.append(name)
    # speedup vs workers: one panel per (workload, args), every data set's curves
    panels = OrderedDict()
    for si, s in enumerate(sets):
        for (workload, rest, impl), pts in s["curves"].items():
            if impl == "serial" or 1 not in pts or len(pts) < 2:
                continue
            panels.setdefault((workload, rest), []).append((si, s["slug"], impl, pts))
    if panels:
        n = len(panels)
        cols = min(4, n)
        rows_n = (n + cols - 1) // cols
        fig, axes = plt.subplots(rows_n, cols, figsize=(4 * cols, 3.4 * rows_n), squeeze=False)
        maxw = 2
        for k, ((workload, rest), curves_) in enumerate(panels.items()):
            ax = axes[k // cols][k % cols]
            for j, (si, slug, impl, pts) in enumerate(curves_):
                ws = sorted(pts)
                sp = [pts[1] / pts[w] for w in ws]
                maxw = max(maxw, ws[-1])
                ax.plot(ws, sp, marker="o", color=color(impl, j),
                        linestyle="-" if si == 0 else "--",
                        label=impl if si == 0 else "%s (%s)" % (impl, slug))
            top = max(max(pts) for _, _, _, pts in curves_)
            ax.plot([1, top], [1, top], color="black", linewidth=0.6, linestyle=":",
                    label="ideal")
            ax.set_title("%s %s" % (workload[3:], rest if rest != "-" else ""), fontsize=8)
            ax.set_xlabel("workers", fontsize=7)
            ax.set_ylabel("speedup over own 1-worker time", fontsize=7)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        for k in range(n, rows_n * cols):
            axes[k // cols][k % cols].axis("off")
        fig.suptitle("speedup vs workers (solid: %s)" % label, fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(charts_dir, "speedup.png"), dpi=110)
        plt.close(fig)
        made.append("speedup.png")
    return made


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench", help="directory with data/, gets RESULTS.md, charts/")
    ap.add_argument("--notes", default=None, help="Markdown included after the targets table")
    args = ap.parse_args()
    data_root = os.path.join(args.out, "data")
    slugs = sorted(d for d in os.listdir(data_root) if os.path.isdir(os.path.join(data_root, d))) \
        if os.path.isdir(data_root) else []
    if "default" in slugs:
        slugs.remove("default")
        slugs.insert(0, "default")
    sets = []
    for slug in slugs:
        d = os.path.join(data_root, slug)
        paths = sorted(glob.glob(os.path.join(d, "*.json")))
        if not paths:
            continue
        runs, ctx = load_runs(paths)
        sets.append({"slug": slug, "dir": d, "runs": runs, "summary": summarize(runs),
                     "curves": speedups(runs)})
    if not sets:
        sys.exit("bench_plot: no data in %s" % data_root)
    first = machine_text(sets[0]["dir"]).splitlines()
    label = first[0] if first else sets[0]["slug"]
    charts = draw_charts(args.out, sets, label)
    notes = ""
    if args.notes and os.path.exists(args.notes):
        with open(args.notes) as f:
            notes = f.read()
    write_markdown(args.out, sets, sets[0]["summary"], sets[0]["curves"], charts, notes)
    print("bench_plot: wrote %s and %d charts in %s" % (
        os.path.join(args.out, "RESULTS.md"), len(charts), os.path.join(args.out, "charts")))


if __name__ == "__main__":
    main()
