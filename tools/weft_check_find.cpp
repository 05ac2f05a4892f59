// SPDX-License-Identifier: Apache-2.0
// weft-check-find: how fast weft::check finds each bug of the catalogue
// (tests/check_bugs.hpp), beside plain stress-style runs of the same program on a real
// 2-worker scheduler given the same time. Prints a Markdown table (docs/check-results.md).
//
//   weft-check-find [--seeds N] [--cap N] [--min-budget-ms N] [--bug NAME]
//
// Per bug and policy (random, PCT depth 3): N explorations (seeds 1..N, default 20) of at
// most --cap iterations (default 1000), each stopped at its first find; the table gives the
// median number of iterations to the first find (a search that found nothing counts as
// more than the cap) and how many seeds found it. The plain runs then get the wall time the
// catalogue policy's N explorations took (at least --min-budget-ms, default 500): fresh
// runs of the program on a 2-worker weft::Scheduler, each with a watchdog (a run not done
// within 100 ms past its own sleeps counts as a hang: a deadlock or leak found), and the
// table gives runs, finds and the find rate.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "../tests/check_bugs.hpp"
#include "weft/check.hpp"
#include "weft/weft.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<std::uint64_t> g_detached_failures{0};

void count_unhandled(std::uint64_t, std::exception_ptr) noexcept {
  g_detached_failures.fetch_add(1, std::memory_order_relaxed);
}

struct Search {
  std::uint64_t median = 0;  // iterations to the first find; cap + 1: not found
  int found = 0;
  double seconds = 0;
};

Search search(const weft_bugs::Bug& bug, weft::check::Policy policy, int seeds, std::uint64_t cap) {
  std::vector<std::uint64_t> its;
  Search s;
  const auto start = Clock::now();
  for (int seed = 1; seed <= seeds; ++seed) {
    weft::check::Options o;
    o.policy = policy;
    o.seed = static_cast<std::uint64_t>(seed);
    o.iterations = cap;
    o.print = false;
    const weft::check::Result r = weft::check::explore(bug.body, o);
    if (!r.ok) {
      ++s.found;
      its.push_back(r.failed_iteration + 1);
    } else {
      its.push_back(cap + 1);
    }
  }
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(its.begin(), its.end());
  s.median = its[its.size() / 2];
  return s;
}

struct Plain {
  std::uint64_t runs = 0, finds = 0, hangs = 0;
};

// Fresh runs on a real 2-worker scheduler until `budget` has passed. A hung scheduler
// cannot be destroyed (its destructor waits for the blocked coroutines): it is leaked and
// a new one made.
Plain plain_runs(const weft_bugs::Bug& bug, Clock::duration budget, Clock::duration grace) {
  Plain p;
  const auto end = Clock::now() + budget;
  auto* sched = new weft::Scheduler({.workers = 2});
  while (Clock::now() < end) {
    const std::uint64_t detached_before = g_detached_failures.load();
    weft::Task<void> root = sched->spawn(bug.body);
    const auto deadline = Clock::now() + grace;
    while (!root.done() && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    bool found = false, hung = !root.done();
    if (!hung) {
      try {
        root.join();
      } catch (...) {
        found = true;
      }
      // Coroutines the program left behind (a leak) keep the scheduler's count up.
      while (sched->stats().live != 0 && Clock::now() < deadline) std::this_thread::yield();
      hung = sched->stats().live != 0;
    } else {
      root.detach();
    }
    found = found || hung || g_detached_failures.load() != detached_before;
    ++p.runs;
    if (found) ++p.finds;
    if (hung) {
      ++p.hangs;
      sched = new weft::Scheduler({.workers = 2});  // the old one stays blocked, leaked
    }
  }
  if (p.hangs == 0) delete sched;
  return p;
}

std::string cell(const Search& s, std::uint64_t cap) {
  char b[96];
  if (s.median > cap) {
    std::snprintf(b, sizeof b, "> %llu (%d found)", static_cast<unsigned long long>(cap), s.found);
  } else {
    std::snprintf(b, sizeof b, "%llu (%d found)", static_cast<unsigned long long>(s.median),
                  s.found);
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 20;
  std::uint64_t cap = 1000;
  long min_budget_ms = 500;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seeds")) {
      seeds = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--cap")) {
      cap = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (!std::strcmp(argv[i], "--min-budget-ms")) {
      min_budget_ms = std::atol(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--bug")) {
      only = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--seeds N] [--cap N] [--min-budget-ms N] [--bug NAME]\n",
                   argv[0]);
      return 2;
    }
  }
  if (seeds < 1 || cap < 1) return 2;
  weft::set_unhandled_exception_handler(&count_unhandled);
  std::printf(
      "| bug | found by (test) | random: iterations to first find, median of %d seeds | "
      "PCT d=3: iterations to first find, median of %d seeds | weft::check time, %d seeds "
      "(test policy) | plain 2-worker runs in that time: finds / runs (rate) |\n",
      seeds, seeds, seeds);
  std::printf("|---|---|---|---|---|---|\n");
  for (const weft_bugs::Bug& bug : weft_bugs::catalogue()) {
    if (!only.empty() && only != bug.name) continue;
    const Search random = search(bug, weft::check::Policy::kRandom, seeds, cap);
    const Search pct = search(bug, weft::check::Policy::kPct, seeds, cap);
    const Search& named = bug.policy == weft::check::Policy::kPct ? pct : random;
    const double budget_s = std::max(named.seconds, static_cast<double>(min_budget_ms) / 1000.0);
    // The timeout bug sleeps a real second per run: the watchdog allows for it.
    const auto grace =
        std::chrono::milliseconds(std::strcmp(bug.name, "timeout_ordering") ? 100 : 1100);
    const Plain plain = plain_runs(
        bug, std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(budget_s)),
        grace);
    std::printf(
        "| %s | %s | %s | %s | %.3f s | %llu / %llu (%.3g%%) |\n", bug.name,
        bug.policy == weft::check::Policy::kPct ? "PCT" : "random", cell(random, cap).c_str(),
        cell(pct, cap).c_str(), named.seconds, static_cast<unsigned long long>(plain.finds),
        static_cast<unsigned long long>(plain.runs),
        plain.runs ? 100.0 * static_cast<double>(plain.finds) / static_cast<double>(plain.runs)
                   : 0.0);
    std::fflush(stdout);
  }
  return 0;
}
