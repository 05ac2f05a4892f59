// SPDX-License-Identifier: Apache-2.0
// The recursive fork-join kernels (fib, skynet, nqueens) of every bench file, one per peer.
//
// Per kernel: <kernel>_spawn_join (weft::spawn + Task::join), <kernel>_task_group
// (weft::TaskGroup), <kernel>_tbb (oneTBB's tbb::task_group), <kernel>_omp (OpenMP tasks,
// where WEFT_BENCH_OPENMP is defined), and two serial floors. No serial cutoff anywhere:
// every call that forks spawns its children.
//
// The floors:
//  - <kernel>_serial: the plain recursion a user would write without a runtime (fib's sum
//    of two calls, skynet's running sum, nqueens on a by-value board). The "serial" peer of
//    every table, as before issue #10's work; the compiler may optimize it freely.
//  - <kernel>_serial_elision: the serial elision of the TaskGroup kernel (Cilk's term): the
//    same code with each g.spawn(f) replaced by a call f() and g.wait() removed -- the same
//    array of child results, the same copies of the board. The ratio to it is the
//    runtime's overhead over the same algorithm run without it (Lace's nqueens-seq is
//    exactly the elision of its nqueens-lace, and issue #10's nqueens floor is that).
//    [[gnu::noinline]] at the recursive function, like the spawning kernels, which cannot
//    inline themselves either. For fib the elision is the plain recursion.
//
// Every kernel starts on a 64-byte boundary (bench/CMakeLists.txt, -falign-functions=64):
// otherwise its speed moves with where the linker happens to put it, and a change
// elsewhere in the binary moved fib's elision by 4% (2.07 vs 2.16 ms, the same
// instructions 16 bytes apart across a cache line).
#pragma once

#include <oneapi/tbb/task_group.h>

#include <array>
#include <cstdint>
#include <weft/weft.hpp>

namespace weft_bench {
// Internal linkage, a copy per bench file: the compiler may then specialize the recursion
// (clones with fewer arguments, no exported ABI) as it did when each file had its own
// kernels; as external inline functions fib's TaskGroup kernel ran about 15% slower.
namespace {

// ---- fib: n-1 spawned, n-2 inline, join ----

inline std::int64_t fib_spawn_join(int n) {
  if (n < 2) return n;
  auto t = weft::spawn(fib_spawn_join, n - 1);
  const std::int64_t b = fib_spawn_join(n - 2);
  return t.join() + b;
}

inline std::int64_t fib_task_group(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  weft::TaskGroup g;
  g.spawn([&a, n] { a = fib_task_group(n - 1); });
  const std::int64_t b = fib_task_group(n - 2);
  g.wait();
  return a + b;
}

inline std::int64_t fib_tbb(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  tbb::task_group g;
  g.run([&a, n] { a = fib_tbb(n - 1); });
  const std::int64_t b = fib_tbb(n - 2);
  g.wait();
  return a + b;
}

#ifdef WEFT_BENCH_OPENMP
inline std::int64_t fib_omp(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
#pragma omp task shared(a) firstprivate(n)
  a = fib_omp(n - 1);
  const std::int64_t b = fib_omp(n - 2);
#pragma omp taskwait
  return a + b;
}
#endif

// fib's plain floor is bench_common.hpp's fib_serial (constexpr, but called with an n read
// at run time: an ordinary recursion).

// The elision of fib_task_group: a = fib(n - 1); b = fib(n - 2); a + b.
[[gnu::noinline]] inline std::int64_t fib_serial_elision(int n) {
  return n < 2 ? n : fib_serial_elision(n - 1) + fib_serial_elision(n - 2);
}

// ---- skynet: a 10-ary tree whose leaves return their index; a node sums its children ----

// The children are joined in spawn order.
inline std::int64_t skynet_spawn_join(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / 10;
  std::array<weft::Task<std::int64_t>, 10> kids;
  for (int i = 0; i < 10; ++i) kids[i] = weft::spawn(skynet_spawn_join, num + i * sub, sub);
  std::int64_t sum = 0;
  for (auto& k : kids) sum += k.join();
  return sum;
}

inline std::int64_t skynet_task_group(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  weft::TaskGroup g;
  for (int i = 0; i < 10; ++i)
    g.spawn([&r, i, num, sub] { r[i] = skynet_task_group(num + i * sub, sub); });
  g.wait();
  std::int64_t sum = 0;
  for (auto v : r) sum += v;
  return sum;
}

inline std::int64_t skynet_tbb(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  tbb::task_group g;
  for (int i = 0; i < 10; ++i) g.run([&r, i, num, sub] { r[i] = skynet_tbb(num + i * sub, sub); });
  g.wait();
  std::int64_t sum = 0;
  for (auto v : r) sum += v;
  return sum;
}

#ifdef WEFT_BENCH_OPENMP
inline std::int64_t skynet_omp(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  for (int i = 0; i < 10; ++i) {
#pragma omp task shared(r) firstprivate(i, num, sub)
    r[i] = skynet_omp(num + i * sub, sub);
  }
#pragma omp taskwait
  std::int64_t sum = 0;
  for (auto v : r) sum += v;
  return sum;
}
#endif

inline std::int64_t skynet_serial(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / 10;
  std::int64_t sum = 0;
  for (int i = 0; i < 10; ++i) sum += skynet_serial(num + i * sub, sub);
  return sum;
}

// The elision of skynet_task_group.
[[gnu::noinline]] inline std::int64_t skynet_serial_elision(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  for (int i = 0; i < 10; ++i)
    [&r, i, num, sub] { r[i] = skynet_serial_elision(num + i * sub, sub); }();
  std::int64_t sum = 0;
  for (auto v : r) sum += v;
  return sum;
}

// ---- nqueens (BOTS-style): a child per safe column, with its own copy of the board ----

inline constexpr int kMaxQueens = 16;

struct Board {
  std::array<char, kMaxQueens> col;  // col[r]: the column of the queen on row r
};

// Whether a queen on (row, c) is safe from those on rows 0..row-1.
inline bool nqueens_safe(const Board& b, int row, int c) {
  for (int r = 0; r < row; ++r) {
    const int d = b.col[r] - c;
    if (d == 0 || d == row - r || d == r - row) return false;
  }
  return true;
}

inline std::int64_t nqueens_spawn_join(int n, int row, Board b) {
  if (row == n) return 1;
  std::array<weft::Task<std::int64_t>, kMaxQueens> kids;
  for (int c = 0; c < n; ++c) {
    if (!nqueens_safe(b, row, c)) continue;
    Board child = b;
    child.col[row] = static_cast<char>(c);
    kids[c] = weft::spawn(nqueens_spawn_join, n, row + 1, child);
  }
  std::int64_t total = 0;
  for (auto& k : kids) {
    if (k.valid()) total += k.join();
  }
  return total;
}

inline std::int64_t nqueens_task_group(int n, int row, const Board& b) {
  if (row == n) return 1;
  std::array<std::int64_t, kMaxQueens> r{};
  weft::TaskGroup g;
  for (int c = 0; c < n; ++c) {
    if (!nqueens_safe(b, row, c)) continue;
    g.spawn([&r, n, row, b, c] {
      Board child = b;
      child.col[row] = static_cast<char>(c);
      r[c] = nqueens_task_group(n, row + 1, child);
    });
  }
  g.wait();
  std::int64_t total = 0;
  for (int c = 0; c < n; ++c) total += r[c];
  return total;
}

inline std::int64_t nqueens_tbb(int n, int row, const Board& b) {
  if (row == n) return 1;
  std::array<std::int64_t, kMaxQueens> r{};
  tbb::task_group g;
  for (int c = 0; c < n; ++c) {
    if (!nqueens_safe(b, row, c)) continue;
    g.run([&r, n, row, b, c] {
      Board child = b;
      child.col[row] = static_cast<char>(c);
      r[c] = nqueens_tbb(n, row + 1, child);
    });
  }
  g.wait();
  std::int64_t total = 0;
  for (int c = 0; c < n; ++c) total += r[c];
  return total;
}

#ifdef WEFT_BENCH_OPENMP
inline std::int64_t nqueens_omp(int n, int row, const Board& b) {
  if (row == n) return 1;
  std::array<std::int64_t, kMaxQueens> r{};
  for (int c = 0; c < n; ++c) {
    if (!nqueens_safe(b, row, c)) continue;
#pragma omp task shared(r) firstprivate(n, row, b, c)
    {
      Board child = b;
      child.col[row] = static_cast<char>(c);
      r[c] = nqueens_omp(n, row + 1, child);
    }
  }
#pragma omp taskwait
  std::int64_t total = 0;
  for (int c = 0; c < n; ++c) total += r[c];
  return total;
}
#endif

inline std::int64_t nqueens_serial(int n, int row, Board b) {
  if (row == n) return 1;
  std::int64_t total = 0;
  for (int c = 0; c < n; ++c) {
    if (!nqueens_safe(b, row, c)) continue;
    b.col[row] = static_cast<char>(c);
    total += nqueens_serial(n, row + 1, b);
  }
  return total;
}

// The elision of nqueens_task_group: the lambda copies the board as the spawned one does,
// and is called at once.
[[gnu::noinline]] inline std::int64_t nqueens_serial_elision(int n, int row, const Board& b) {
  if (row == n) return 1;
  std::array<std::int64_t, kMaxQueens> r{};
  for (int c = 0; c < n; ++c) {
    if (!nqueens_safe(b, row, c)) continue;
    [&r, n, row, b, c] {
      Board child = b;
      child.col[row] = static_cast<char>(c);
      r[c] = nqueens_serial_elision(n, row + 1, child);
    }();
  }
  std::int64_t total = 0;
  for (int c = 0; c < n; ++c) total += r[c];
  return total;
}

}  // namespace
}  // namespace weft_bench
