#!/usr/bin/env bash
# Installs the dependencies, builds weft (release) and shows it at work: parallel fib and
# skynet on all cores, then the core benchmarks beside oneTBB and Boost.Fiber.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
echo "=== weft-demo ==="
build/release/tools/weft-demo "$@"
echo "=== benchmarks (weft beside its peers, same run) ==="
build/release/bench/weft_bench_core --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
