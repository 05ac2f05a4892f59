#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Draws a weft scheduler trace (Chrome Trace Event JSON) as a PNG timeline.

    tools/trace_timeline.py TRACE.json [-o OUT.png] [--title TEXT] [--width INCHES]
                            [--start MS] [--end MS]

One lane per worker (worker 0 on top), time in ms since the trace's first event:
blue where the worker ran a coroutine ("run" slices), grey where it was parked
("park" slices), white where it did neither (searching, switching, scheduling), and
orange markers at the top of a lane where that worker stole a coroutine ("steal"
instants). The right-hand text gives each worker's share of the shown window spent
running and parked, and its steal count. --start/--end zoom to a window (ms since the
first event). OUT defaults to TRACE with .png for .json. Needs python3-matplotlib.
"""

import argparse
import json
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.transforms import blended_transform_factory
except ImportError as err:
    sys.exit(f"trace_timeline.py: {err} (install python3-matplotlib, or run /usr/bin/python3)")

RUN_RGB = np.array([0.10, 0.35, 0.80])   # strong blue
PARK_RGB = np.array([0.80, 0.80, 0.80])  # light grey
STEAL_COLOR = "#ff8c00"
LANE_H = 0.8                             # lane height in y units (one unit per worker)
DPI = 150


class TraceError(Exception):
    pass


def _compact(obj):
    """json object_hook: keeps a timed event as a small tuple, which holds a 2M-event
    trace in a fraction of the memory (and time) that dicts need; args are dropped."""
    ph = obj.get("ph")
    if ph is None or ph == "M":
        return obj
    return (obj.get("name"), ph, obj.get("tid"), obj.get("ts"), obj.get("dur"))


def load_trace(path):
    """Returns (workers, lane names, runs, parks, steals, first ts, last ts, dropped);
    runs/parks are (tid, start, end) arrays and steals (tid, ts) arrays, all in us."""
    try:
        with open(path, "rb") as f:
            data = json.load(f, object_hook=_compact)
    except (OSError, ValueError) as err:
        raise TraceError(f"cannot read {path}: {err}")
    other = {}
    if isinstance(data, list):  # the JSON Array form: a bare list of events
        events = data
    elif isinstance(data, dict) and isinstance(data.get("traceEvents"), list):
        events = data["traceEvents"]
        other = data.get("otherData") if isinstance(data.get("otherData"), dict) else {}
    else:
        raise TraceError(f"{path}: not a Chrome trace (an object with traceEvents, "
                         "or an array of events)")

    def count(key):
        value = other.get(key)
        return value if type(value) is int and value > 0 else 0

    workers, names = count("weft_workers"), {}
    runs, parks, steals, times = ([], [], []), ([], [], []), ([], []), []
    for ev in events:
        if isinstance(ev, dict):  # metadata: only thread names matter
            tid, args = ev.get("tid"), ev.get("args")
            if ev.get("name") == "thread_name" and type(tid) is int and tid >= 0 \
                    and isinstance(args, dict) and "name" in args:
                names[tid] = str(args["name"])
                workers = max(workers, tid + 1)
            continue
        if type(ev) is not tuple:
            continue
        name, ph, tid, ts, dur = ev
        if type(ts) not in (int, float):
            continue
        times.append(ts)  # any timed event, known or not, bounds the trace
        if type(tid) is not int or tid < 0:
            continue
        if ph == "X" and type(dur) in (int, float) and name in ("run", "park"):
            lists = runs if name == "run" else parks
            lists[0].append(tid)
            lists[1].append(ts)
            lists[2].append(ts + dur)
            times.append(ts + dur)
        elif ph in ("i", "I") and name == "steal":
            steals[0].append(tid)
            steals[1].append(ts)
        else:
            continue
        workers = max(workers, tid + 1)
    first, last = (min(times), max(times)) if times else (0.0, 0.0)
    arrays = [tuple(np.asarray(a, dtype=float) for a in group) for group in (runs, parks, steals)]
    return (workers, names, *arrays, first, last, count("dropped_events"))


def union(s, e):
    """The sorted, disjoint intervals that cover the same time as the intervals (s, e)."""
    if len(s) == 0:
        return s, e
    order = np.argsort(s, kind="stable")  # each worker's events come in order: cheap
    s, e = s[order], e[order]
    reach = np.maximum.accumulate(e)
    starts = np.flatnonzero(np.concatenate(([True], s[1:] > reach[:-1])))
    return s[starts], reach[np.append(starts[1:] - 1, len(s) - 1)]


def coverage(s, e, edges):
    """Covered fraction of each column [edges[i], edges[i+1]) by disjoint sorted (s, e).
    Exact for any slice length: a column 30% covered by sub-pixel slices gets 0.3,
    where drawn rectangles would either vanish or be merged into a solid bar."""
    if len(s) == 0:
        return np.zeros(len(edges) - 1)
    before = np.concatenate(([0.0], np.cumsum(e - s)))  # covered time before interval k
    k = np.searchsorted(s, edges, side="right") - 1    # last interval starting <= edge
    kk = np.maximum(k, 0)
    upto = np.where(k >= 0, before[kk] + np.clip(edges - s[kk], 0, e[kk] - s[kk]), 0.0)
    return np.diff(upto) / np.diff(edges)


def fmt_ms(ms):
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.3g}"


def main():
    ap = argparse.ArgumentParser(description="Draw a weft scheduler trace as a PNG timeline.")
    ap.add_argument("trace", help="Chrome Trace Event JSON written by weft")
    ap.add_argument("-o", "--output", help="PNG to write (default: TRACE with .png)")
    ap.add_argument("--title", help="title (default: workers and traced span)")
    ap.add_argument("--width", type=float, default=12.0, help="image width in inches (12)")
    ap.add_argument("--start", type=float, help="window start, ms since the first event")
    ap.add_argument("--end", type=float, help="window end, ms since the first event")
    opt = ap.parse_args()
    if not opt.width > 0:
        ap.error("--width must be positive")
    try:
        workers, names, runs, parks, steals, first, last, dropped = load_trace(opt.trace)
    except TraceError as err:
        print(f"trace_timeline.py: {err}", file=sys.stderr)
        return 1
    out = opt.output or (os.path.splitext(opt.trace)[0] if opt.trace.endswith(".json")
                         else opt.trace) + ".png"

    span = (last - first) / 1000.0
    w0 = 0.0 if opt.start is None else opt.start
    w1 = (span if span > w0 else w0 + 0.001) if opt.end is None else opt.end
    if w1 <= w0:
        ap.error("--end must be after --start")

    lanes = max(workers, 1)
    fig, ax = plt.subplots(figsize=(opt.width, 0.6 * lanes + 1.5), dpi=DPI)
    cols = max(int(opt.width * DPI), 1)  # about one column per output pixel
    edges = np.linspace(w0, w1, cols + 1)

    def to_ms(us):
        return (us - first) / 1000.0

    side = blended_transform_factory(ax.transAxes, ax.transData)
    summaries, shown = [], 0
    for w in range(workers):
        shade, shares = np.ones((cols, 3)), []
        for (tid, s, e), rgb in ((runs, RUN_RGB), (parks, PARK_RGB)):
            mine = tid == w
            s, e = to_ms(s[mine]), to_ms(e[mine])
            keep = (e > w0) & (s < w1)  # clip to the window
            s, e = union(np.maximum(s[keep], w0), np.minimum(e[keep], w1))
            frac = coverage(s, e, edges)
            shade -= frac[:, None] * (1.0 - rgb)  # blend toward the color by coverage
            shares.append(100.0 * float(np.sum(e - s)) / (w1 - w0))
            shown += len(s)
        y = w  # worker 0 on top: the y axis is inverted below
        ax.imshow(np.clip(shade, 0, 1)[None], extent=(w0, w1, y + LANE_H / 2, y - LANE_H / 2),
                  aspect="auto", interpolation="nearest", zorder=1)
        ax.add_patch(Rectangle((w0, y - LANE_H / 2), w1 - w0, LANE_H, fill=False,
                               lw=0.5, ec="0.6", zorder=2))
        x = to_ms(steals[1][steals[0] == w])
        x = x[(x >= w0) & (x <= w1)]
        if len(x):  # one marker per pixel column is enough, however many steals share it
            col = np.unique(np.minimum(((x - w0) / (w1 - w0) * cols).astype(int), cols - 1))
            ax.scatter(w0 + (col + 0.5) * (w1 - w0) / cols, np.full(len(col), y - LANE_H / 2),
                       marker="v", s=14, color=STEAL_COLOR, lw=0, zorder=3, clip_on=False)
        shown += len(x)
        label = names.get(w, f"worker {w}")
        stat = f"run {shares[0]:.1f}%, parked {shares[1]:.1f}%, {len(x)} steal" + \
               ("" if len(x) == 1 else "s")
        ax.text(1.008, y, stat, transform=side, va="center", fontsize=8)
        summaries.append(f"{label}: {stat}")

    ax.set_xlim(w0, w1)
    ax.set_ylim(lanes - 0.5, -0.5)
    ax.set_yticks(range(workers), [names.get(w, f"worker {w}") for w in range(workers)])
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("time since the first event (ms)")
    ax.grid(axis="x", color="0.9", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    if shown == 0:
        ax.text(0.5, 0.5, "no run, park or steal events in this window", transform=ax.transAxes,
                ha="center", va="center", color="0.4")

    title = opt.title or (f"weft scheduling timeline: {workers} worker"
                          f"{'' if workers == 1 else 's'}, {fmt_ms(span)} ms")
    if opt.start is not None or opt.end is not None:
        title += f" (showing {w0:g}–{w1:g} ms)"
    fig.suptitle(title, fontsize=11)
    if dropped:
        ax.set_title(f"trace truncated: {dropped} events dropped (buffer full)",
                     fontsize=9, color="firebrick")
    # The legend sits at the bottom of the figure, in a strip that tight_layout leaves free.
    fig.legend(handles=[Patch(color=RUN_RGB, label="running a coroutine"),
                        Patch(color=PARK_RGB, label="parked (idle)"),
                        Patch(facecolor="white", edgecolor="0.6", lw=0.5,
                              label="neither (searching, switching)"),
                        Line2D([], [], ls="", marker="v", color=STEAL_COLOR, label="steal")],
               loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))
    try:
        fig.savefig(out)
    except OSError as err:
        print(f"trace_timeline.py: cannot write {out}: {err}", file=sys.stderr)
        return 1
    print(f"{out}: " + ("; ".join(summaries) or "no workers"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
