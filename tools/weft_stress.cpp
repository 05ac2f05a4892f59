// SPDX-License-Identifier: Apache-2.0
// weft-stress: randomized, seeded stress workloads over everything weft offers, each
// checking conservation invariants (every coroutine ran once, every message arrived once,
// sums match, nothing left suspended). The workloads live in tools/stress/.
//
//   weft-stress [--workload NAME|all] [--seed N] [--workers N]
//               [--duration SECONDS | --ops N] [--watchdog SECONDS] [--list] [--help]
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>
#include <weft/weft.hpp>

#include "cli.hpp"
#include "plural.hpp"
#include "stress/common.hpp"
#include "stress/workloads.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// The part of --help that flags' own descriptions cannot say.
constexpr const char* kFooter =
    "The seed fixes the random choices (tree shapes, fan-outs, which primitive and which\n"
    "call, timeouts, message counts); with --ops it fixes the whole sequence of rounds.\n"
    "Scheduling itself (which worker runs what, steals, timer races) is not deterministic,\n"
    "so a failure may need several runs of the same seed to reproduce.\n"
    "On a terminal a progress line shows ops/s, live coroutines, steals and parks; otherwise\n"
    "only a summary line is printed at the end.\n"
    "Exit status: 0 all invariants held; 1 an invariant failed (the message names the\n"
    "workload, round, phase and seed); abort (134) the watchdog fired; 2 bad arguments.";

struct Args {
  std::vector<const stress::Workload*> selected;
  std::string workload_arg = "all";
  std::uint64_t seed = 0;
  bool seed_given = false;
  unsigned workers = 4;
  std::optional<double> duration;
  std::optional<std::uint64_t> ops;
  std::optional<double> watchdog;
};

void list_workloads() {
  for (const stress::Workload& w : stress::workloads()) {
    std::printf("%-11s %s\n", w.name, w.summary);
  }
}

// Parses the flags (CLI11); std::nullopt with `exit_code` set when the tool should stop
// now (--help, --list, bad flags).
std::optional<Args> parse_args(int argc, char** argv, int& exit_code) {
  Args a;
  CLI::App app{"weft-stress: randomized, seeded stress workloads with invariant checks",
               "weft-stress"};
  app.footer(kFooter);
  bool list = false;
  app.add_option("--workload", a.workload_arg, "one workload (see --list) or 'all', in turn")
      ->capture_default_str();
  CLI::Option* seed = app.add_option(
      "--seed", a.seed, "64-bit seed of every random choice (default: random, printed)");
  app.add_option("--workers", a.workers, "worker threads of each Scheduler")
      ->capture_default_str()
      ->check(CLI::Range(1u, weft::kMaxWorkers));
  CLI::Option* duration = app.add_option("--duration", a.duration,
                                         "run for about S seconds in total, split evenly among "
                                         "the workloads (default 10)")
                              ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--ops", a.ops, "instead: N operations per workload")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1000000000000ULL}))
      ->excludes(duration);
  app.add_option("--watchdog", a.watchdog,
                 "abort (printing the seed) after S seconds in total (default: 3x the "
                 "duration; with --ops, 300 s per workload)")
      ->check(CLI::Range(1.0, 3 * 86400.0));
  app.add_flag("--list", list, "list the workloads and exit");
  if (const auto rc = weft_tools::parse(app, argc, argv)) {
    exit_code = *rc;
    return std::nullopt;
  }
  if (list) {
    list_workloads();
    exit_code = 0;
    return std::nullopt;
  }
  a.seed_given = seed->count() > 0;
  if (!a.duration && !a.ops) a.duration = 10;
  for (const stress::Workload& w : stress::workloads()) {
    if (a.workload_arg == "all" || a.workload_arg == w.name) a.selected.push_back(&w);
  }
  if (a.selected.empty()) {
    std::string names;
    for (const stress::Workload& w : stress::workloads()) names += std::string(" ") + w.name;
    std::fprintf(stderr, "weft-stress: unknown workload '%s' (known: all%s)\n",
                 a.workload_arg.c_str(), names.c_str());
    exit_code = 2;
    return std::nullopt;
  }
  if (!a.seed_given) {
    std::random_device rd;
    a.seed = (std::uint64_t{rd()} << 32) ^ rd();
  }
  return a;
}

void add_stats(weft::Stats& into, const weft::Stats& s) {
  into.spawned += s.spawned;
  into.completed += s.completed;
  into.switches += s.switches;
  into.steals += s.steals;
  into.children_stolen += s.children_stolen;
  into.parks += s.parks;
}

// The Scheduler now in use, for the progress line, and the stats of the finished ones.
struct Live {
  std::mutex mu;
  weft::Scheduler* sched = nullptr;
  weft::Stats done;  // sums over schedulers already destroyed
  weft::Stats now() {
    std::lock_guard lock(mu);
    weft::Stats s = done;
    if (sched) add_stats(s, sched->stats());
    return s;
  }
  void set(weft::Scheduler* s) {
    std::lock_guard lock(mu);
    if (sched) add_stats(done, sched->stats());
    sched = s;
  }
};

Live& live() {
  static Live l;
  return l;
}

// Waits until `s` has no unfinished coroutine (spawned == completed), or fails.
void expect_quiescent(weft::Scheduler& s, const char* when) {
  const Clock::time_point t0 = Clock::now();
  for (;;) {
    const weft::Stats st = s.stats();
    if (st.completed == st.spawned) return;
    if (Clock::now() - t0 > stress::kWaitLimit) {
      stress::fail("%s: the scheduler still has %" PRId64
                   " unfinished coroutines after %.0f s (spawned %" PRIu64 ", completed %" PRIu64
                   "): a coroutine was left suspended",
                   when, static_cast<std::int64_t>(st.spawned - st.completed), stress::since(t0),
                   st.spawned, st.completed);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Aborts the process, naming the workload, round, phase and seed, past its time limit.
struct Watchdog {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;

  void start(double limit_s) {
    thread = std::thread([this, limit_s] {
      std::unique_lock lock(mu);
      const auto limit = std::chrono::duration<double>(limit_s);
      if (cv.wait_for(lock, limit, [this] { return stop; })) return;
      const stress::Where& w = stress::where();
      std::fprintf(stderr,
                   "\nweft-stress: WATCHDOG: the run exceeded its limit of %.1f s, stuck in "
                   "workload '%s' round %" PRIu64
                   " (%s): a hang (lost wake-up or deadlock?)\n"
                   "weft-stress: seed %" PRIu64 "; reproduce with: %s\n",
                   limit_s, w.workload.load(), w.round.load(), w.phase.load(), w.seed,
                   w.repro_line());
      std::fflush(stderr);
      std::abort();
    });
  }
  void finish() {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    thread.join();
  }
};

// The progress line on a terminal: rewritten in place, 4 times a second.
struct Progress {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;

  void start(Clock::time_point t0) {
    thread = std::thread([this, t0] {
      std::uint64_t last_ops = 0;
      Clock::time_point last = t0;
      std::unique_lock lock(mu);
      while (!cv.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop; })) {
        const Clock::time_point now = Clock::now();
        const std::uint64_t ops = stress::ops_counter().load(std::memory_order_relaxed);
        const double dt = std::chrono::duration<double>(now - last).count();
        const double rate = dt > 0 ? static_cast<double>(ops - last_ops) / dt : 0;
        last_ops = ops;
        last = now;
        const weft::Stats s = live().now();
        // The counters are read one after another: clamp a transiently negative difference.
        const long long in_flight =
            std::max<long long>(0, static_cast<long long>(s.spawned - s.completed));
        const stress::Where& w = stress::where();
        std::printf("\r\033[K%6.1fs %-10s round %-5" PRIu64 " ops %-10" PRIu64
                    " %9.0f ops/s  live %-6lld steals %-9" PRIu64 " parks %" PRIu64,
                    std::chrono::duration<double>(now - t0).count(), w.workload.load(),
                    w.round.load(), ops, rate, in_flight, s.steals, s.parks);
        std::fflush(stdout);
      }
    });
  }
  void finish() {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    thread.join();
    std::printf("\r\033[K");
    std::fflush(stdout);
  }
};

std::string repro_line(const Args& a, const char* workload) {
  std::string s = "weft-stress --workload " + std::string(workload) + " --seed " +
                  std::to_string(a.seed) + " --workers " + std::to_string(a.workers);
  if (a.ops) {
    s += " --ops " + std::to_string(*a.ops);
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, " --duration %g",
                  *a.duration / static_cast<double>(a.selected.size()));
    s += buf;
  }
  return s;
}

// A stable hash of a workload name (std::hash may differ between standard libraries).
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

// Ops per round: rounds are the unit at whose end every invariant is checked.
constexpr std::uint64_t kRoundOps = stress::kTsan ? 1500 : 4000;

// Runs one workload: rounds until its ops or its share of the duration are used up.
std::uint64_t run_workload(const Args& args, const stress::Workload& wl, bool tty) {
  stress::Where& where = stress::where();
  // Kept for the whole run: the watchdog or a failing coroutine may still be reading the
  // previous one.
  static std::deque<std::string> lines;
  lines.push_back(repro_line(args, wl.name));
  where.repro.store(&lines.back(), std::memory_order_release);
  where.workload.store(wl.name);
  where.round.store(0);
  stress::phase("starting");
  // Per-workload seed: the same for a workload whether run alone or within 'all'.
  stress::Rng wrng(args.seed ^ stress::mix(fnv1a(wl.name)));
  const std::uint64_t ops_start = stress::ops_counter().load();
  const Clock::time_point w_start = Clock::now();
  const Clock::time_point w_end =
      args.duration
          ? w_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                          *args.duration / static_cast<double>(args.selected.size())))
          : Clock::time_point::max();
  std::unique_ptr<weft::Scheduler> sched;
  std::uint64_t round = 0;
  for (;;) {
    const std::uint64_t done_ops = stress::ops_counter().load() - ops_start;
    if (args.ops ? done_ops >= *args.ops : Clock::now() >= w_end) break;
    const std::uint64_t round_seed = wrng.next();
    stress::Rng rrng(round_seed);
    // A fresh scheduler at the start and now and then, so that startup and shutdown with
    // warm pools are stressed too.
    if (!sched || rrng.chance(20)) {
      stress::phase("scheduler shutdown");
      live().set(nullptr);
      sched.reset();
      stress::phase("scheduler startup");
      sched = std::make_unique<weft::Scheduler>(
          weft::Options{.workers = args.workers, .stack_size = 128 * 1024});
      live().set(sched.get());
    }
    where.round.store(round);
    stress::phase("round");
    const weft::Stats before = sched->stats();
    stress::Accounting& acc = stress::accounting();
    const std::uint64_t spawned0 = acc.spawned.load();
    const std::uint64_t ran0 = acc.ran.load();
    stress::Round r{*sched, rrng.next(),
                    args.ops ? std::min(kRoundOps, *args.ops - done_ops) : kRoundOps, args.workers};
    wl.run(r);
    stress::phase("round end checks");
    expect_quiescent(*sched, "after the round");
    const weft::Stats after = sched->stats();
    const std::uint64_t spawned = acc.spawned.load() - spawned0;
    const std::uint64_t ran = acc.ran.load() - ran0;
    // Stolen TaskGroup children become coroutines too, without a go().
    const std::uint64_t stolen = after.children_stolen - before.children_stolen;
    STRESS_CHECK(
        ran == spawned && after.spawned - before.spawned == spawned + stolen &&
            after.completed - before.completed == spawned + stolen,
        "the workload spawned %" PRIu64 " coroutines and %" PRIu64 " started running, and %" PRIu64
        " TaskGroup children were stolen; Scheduler::stats() counts %" PRIu64
        " spawned and %" PRIu64 " completed in the round (each should be the sum)",
        spawned, ran, stolen, after.spawned - before.spawned, after.completed - before.completed);
    ++round;
  }
  stress::phase("scheduler shutdown");
  live().set(nullptr);
  sched.reset();
  if (tty) {
    const std::uint64_t n = stress::ops_counter().load() - ops_start;
    const double s = stress::since(w_start);
    std::printf("\r\033[K  %-11s ok: %" PRIu64 " ops in %" PRIu64 " rounds, %.1f s (%.0f ops/s)\n",
                wl.name, n, round, s, s > 0 ? static_cast<double>(n) / s : 0.0);
    std::fflush(stdout);
  }
  return round;
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const std::optional<Args> parsed = parse_args(argc, argv, exit_code);
  if (!parsed) return exit_code;
  const Args& args = *parsed;
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  stress::where().seed = args.seed;
  if (tty) {
    if (args.ops) {
      std::printf("weft-stress: seed %" PRIu64 ", %s, %s per workload\n", args.seed,
                  weft_tools::plural(args.workers, "worker").c_str(),
                  weft_tools::plural(*args.ops, "op").c_str());
    } else {
      std::printf("weft-stress: seed %" PRIu64 ", %s, %g s\n", args.seed,
                  weft_tools::plural(args.workers, "worker").c_str(), *args.duration);
    }
  }

  const Clock::time_point t0 = Clock::now();
  Watchdog watchdog;
  watchdog.start(args.watchdog ? *args.watchdog
                 : args.ops    ? 300.0 * static_cast<double>(args.selected.size())
                               : 3 * *args.duration);
  Progress progress;
  if (tty) progress.start(t0);

  std::uint64_t rounds = 0;
  try {
    for (const stress::Workload* wl : args.selected) rounds += run_workload(args, *wl, tty);
  } catch (const std::exception& e) {
    stress::fail("unexpected exception escaped to main: %s", e.what());
  }
  if (tty) progress.finish();
  watchdog.finish();

  const weft::Stats s = live().now();
  const std::uint64_t ops = stress::ops_counter().load();
  const double secs = stress::since(t0);
  using weft_tools::plural;
  std::printf("weft-stress: ok: %s, %s in %s, %.1f s (%.0f ops/s); seed %" PRIu64
              ", %s%s; %s spawned and completed, %s, %s\n",
              plural(args.selected.size(), "workload").c_str(), plural(ops, "op").c_str(),
              plural(rounds, "round").c_str(), secs,
              secs > 0 ? static_cast<double>(ops) / secs : 0.0, args.seed,
              plural(args.workers, "worker").c_str(),
              stress::kTsan   ? " (tsan)"
              : stress::kAsan ? " (asan)"
                              : "",
              plural(s.spawned, "coroutine").c_str(), plural(s.steals, "steal").c_str(),
              plural(s.parks, "park").c_str());
  return 0;
}
