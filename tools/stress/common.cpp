// SPDX-License-Identifier: Apache-2.0
#include "common.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "workloads.hpp"

namespace stress {

Where& where() noexcept {
  static Where w;
  return w;
}

std::atomic<std::uint64_t>& ops_counter() noexcept {
  static std::atomic<std::uint64_t> n{0};
  return n;
}

Accounting& accounting() noexcept {
  static Accounting a;
  return a;
}

void ran_twice(const EntryMark& first) {
  const EntryMark again = EntryMark::now();
  fail("a coroutine's function was entered twice (a double run): first as coroutine %" PRIu64
       " on worker %d, again as coroutine %" PRIu64 " on worker %d",
       first.id, first.worker, again.id, again.worker);
}

void fail(const char* fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const Where& w = where();
  std::fprintf(stderr,
               "\nweft-stress: FAILED in workload '%s' round %" PRIu64
               " (%s): %s\n"
               "weft-stress: seed %" PRIu64 "; reproduce with: %s\n",
               w.workload.load(), w.round.load(), w.phase.load(), msg, w.seed, w.repro_line());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(1);
}

std::span<const Workload> workloads() noexcept {
  // The workloads aimed at the seams outside testing broke run first, so that a short
  // --workload all run (CI: 27 s split among them) reaches each of them early.
  static constexpr Workload kAll[] = {
      {"dtor", "result destructors and unhandled-exception handlers that suspend", run_dtor},
      {"contend",
       "threads and coroutines contend on one Mutex and one Channel while coroutines poll "
       "(try_lock/try_recv + yield)",
       run_contend},
      {"destroy",
       "the woken party deletes each primitive as soon as its wait returns; wakers are "
       "threads and coroutines",
       run_destroy},
      {"io_busy",
       "pipe waits while other workers run coroutines that never suspend: an idle worker "
       "must collect the readiness at once",
       run_io_busy},
      {"fork-join",
       "random TaskGroup trees: steals, children that block, exceptions, cancellation, "
       "parallel_for/reduce inside children, plain-thread owners; every value checked",
       run_fork_join},
      {"spawn-tree",
       "random spawn trees (fan-out, depth); joins in random order, detached subtrees, "
       "exceptions through join, yield_to siblings",
       run_spawn_tree},
      {"threads",
       "plain threads inject spawns and join coroutines; coroutines join threads' tasks "
       "(Tasks passed through Channels); detach",
       run_threads},
      {"yield", "yield and yield_to storms among peers and fresh children", run_yield},
      {"mutex",
       "Mutex (lock, try_lock, try_lock_for, held across suspension) and CondVar queues, "
       "coroutines and threads together",
       run_mutex},
      {"channel",
       "Channels of random capacity (0 = rendezvous); blocking, try and timed send/recv "
       "from coroutines and threads; close and drain",
       run_channel},
      {"signal", "WaitGroup fan-out/fan-in and Event gates (set/reset), waited on with timeouts",
       run_signal},
      {"timeouts",
       "sleeps, and timed waits on every primitive that must time out or race a wake-up",
       run_timeouts},
      {"pipe",
       "fd waits (wait_readable/wait_writable) on non-blocking pipes: byte streams and "
       "shared pipes with several readers and writers",
       run_pipe},
      {"mix", "actors picking random operations from all of the above on shared objects", run_mix},
  };
  return kAll;
}

}  // namespace stress
