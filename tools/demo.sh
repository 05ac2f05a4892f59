#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the dependencies, builds weft (release) and shows it at work: a short table of
# fork-join workloads, weft beside the serial floor, oneTBB and Boost.Fiber, all measured in
# this run. Everything else (apt, the build, Google Benchmark's own rows) goes to files
# under build/demo/, whose paths are printed. Extra arguments go to weft_bench_core.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/demo
mkdir -p "$out"
log=$out/demo.log
raw=$out/raw.json
: >"$log"
echo "demo: setup and build output -> $log"
bash tools/setup.sh >>"$log" 2>&1 || { echo "demo: setup failed, see $log" >&2; exit 1; }
{ cmake --preset release && cmake --build --preset release -j "$(nproc)" --target weft_bench_core weft-demo; } \
  >>"$log" 2>&1 || { echo "demo: build failed, see $log" >&2; exit 1; }
n=$(nproc)
echo "demo: timing on $n worker(s), 3 runs each (a few minutes, Boost.Fiber the slowest); raw rows -> $raw"
build/release/bench/weft_bench_core \
  --benchmark_filter="^BM_fib/(serial|weft|tbb)/workers:($n|1)/|^BM_fib_small/(weft|tbb|boost_fiber)/workers:($n|1)/|^BM_skynet/(serial|weft|tbb|boost_fiber)/leaves:(100000|1000000)/workers:($n|1)/" \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$raw" --benchmark_out_format=json "$@" >>"$log" 2>&1 ||
  { echo "demo: benchmark failed, see $log" >&2; exit 1; }
echo
echo "weft $(sed -n 's/^#define WEFT_VERSION_STRING "\(.*\)"/\1/p' build/release/include/weft/version.hpp), milliseconds (median of 3), $n worker(s):"
python3 tools/demo_table.py "$raw" "$n"
echo
echo "serial: plain recursion, no spawns (the floor a spawn per call is measured against)."
echo "speedup: weft on 1 worker / on $n. TBB/weft, Fib/weft: the peer's time / weft's (above 1: weft is faster)."
echo "Google Benchmark's \"Library was built as DEBUG\" (in the log) is about Debian's build of"
echo "libbenchmark's own harness; the timed loops are weft and its peers, built Release here."
echo "More: build/release/tools/weft-demo (stats per worker), tools/bench-report (every workload, charts)."
