// SPDX-License-Identifier: Apache-2.0
// weft_bench_core entry point: reads WEFT_BENCH_SMOKE, registers the workloads, runs them.
// Also the shared helpers of bench_common.hpp: worker sweeps, speedup counters, RSS and
// CPU readings, and child processes (this binary re-executed with --weft-child JOB ...).
#include <benchmark/benchmark.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "bench_common.hpp"

extern char** environ;

namespace weft_bench {

namespace {

std::atomic<bool> g_failed{false};

// A child that has not finished by then is killed and its benchmark reports an error.
constexpr std::chrono::seconds kChildTimeout{300};

Config make_config() {
  Config c;
  const char* smoke = std::getenv("WEFT_BENCH_SMOKE");
  c.smoke = smoke != nullptr && *smoke != '\0' && std::strcmp(smoke, "0") != 0;
  if (c.smoke) {
    c.switches = 1000;
    c.yields = 100;
    c.spawns = kBatch;
    c.thread_spawns = 8;
    c.fib_n = 15;
    c.fib_fiber_n = 12;
    c.skynet_leaves = 1000;
    c.skynet_small = 100;
    c.skynet_big = 10000;
    c.pfor_n = 100000;
    c.pingpong = 1000;
    c.pingpong_threads = 100;
    c.idle_samples = 5;
    c.live = 2000;
    c.live_fiber = 1000;
    c.child_runs = 1;
  }
  c.fib_expected = fib_serial(c.fib_n);
  c.max_threads = std::max(1u, std::thread::hardware_concurrency());
  return c;
}

std::map<std::string, ChildJob>& child_jobs() {
  static std::map<std::string, ChildJob> jobs;
  return jobs;
}

}  // namespace

const Config& config() {
  static const Config c = make_config();
  return c;
}

void fail(benchmark::State& state, const std::string& message) {
  g_failed.store(true, std::memory_order_relaxed);
  state.SkipWithError(message.c_str());
}

benchmark::internal::Benchmark* finish(benchmark::internal::Benchmark* b, double min_time) {
  if (config().smoke) return b->Iterations(1);
  return b->MinTime(min_time);
}

void worker_sweep(benchmark::internal::Benchmark* b) {
  const auto max = static_cast<std::int64_t>(config().max_threads);
  b->ArgName("workers");
  std::int64_t t = 1;
  for (; t < max; t *= 2) b->Arg(t);
  b->Arg(max);
  if (max < 2) b->Arg(2);  // always measure the 2-worker case
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

void record_speedup(benchmark::State& state, const std::string& key, unsigned workers,
                    double seconds) {
  static std::mutex mu;
  static std::map<std::string, std::vector<double>> one_worker;
  std::lock_guard lock(mu);
  if (seconds <= 0) return;
  if (workers == 1) {
    one_worker[key].push_back(seconds);
    state.counters["speedup"] = 1.0;
    return;
  }
  auto it = one_worker.find(key);
  if (it != one_worker.end() && !it->second.empty())
    state.counters["speedup"] = median(it->second) / seconds;
}

namespace {
// A field of /proc/self/status, in KiB (VmHWM, VmRSS), or -1.
long status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::size_t len = std::strlen(field);
  while (std::getline(status, line)) {
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':')
      return std::strtol(line.c_str() + len + 1, nullptr, 10);
  }
  return -1;
}
}  // namespace

// VmHWM is the high-water mark of this process image's own memory. getrusage's ru_maxrss
// is not: exec() folds the old image's peak into it, and posix_spawn's child execs from
// the parent's address space (CLONE_VM), so a child's ru_maxrss starts at the parent's.
long peak_rss_kib() {
  const long hwm = status_kib("VmHWM");
  if (hwm >= 0) return hwm;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

long current_rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ---- child processes ----

bool add_child_job(const std::string& name, ChildJob job) {
  child_jobs()[name] = std::move(job);
  return true;
}

double ChildResult::get(const std::string& name, double otherwise) const {
  for (const auto& v : values)
    if (v.name == name) return v.value;
  return otherwise;
}

ChildResult run_child(const std::string& job, const ChildArgs& args) {
  ChildResult r;
  int fds[2];
  if (pipe(fds) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  std::vector<std::string> argv_s = {
      "weft_bench_core",        "--weft-child", job, args.peer, std::to_string(args.workers),
      std::to_string(args.size)};
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    r.error = std::string("posix_spawn: ") + std::strerror(rc);
    return r;
  }
  // Read until the child closes its end, or kill it after kChildTimeout.
  std::string out;
  char buf[4096];
  const auto deadline = Clock::now() + kChildTimeout;
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t got = read(fds[0], buf, sizeof buf);
    if (got > 0) {
      out.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  r.maxrss_kib = ru.ru_maxrss;
  if (timed_out) {
    r.error = "child " + job + "/" + args.peer + " killed after " +
              std::to_string(kChildTimeout.count()) + " s";
    return r;
  }
  // Output: lines "name value", then "ok"; or "error message".
  std::istringstream in(out);
  std::string line;
  bool saw_ok = false;
  while (std::getline(in, line)) {
    if (line == "ok") {
      saw_ok = true;
    } else if (line.rfind("error ", 0) == 0) {
      r.error = line.substr(6);
    } else {
      std::istringstream ls(line);
      ChildValue v;
      if (ls >> v.name >> v.value) r.values.push_back(v);
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (r.error.empty())
      r.error = "child " + job + "/" + args.peer + " exited abnormally (status " +
                std::to_string(status) + ")";
    return r;
  }
  r.ok = saw_ok && r.error.empty();
  if (!r.ok && r.error.empty()) r.error = "child " + job + " printed no result";
  return r;
}

void run_child_iteration(benchmark::State& state, const std::string& job, const ChildArgs& args) {
  state.SetLabel(args.peer);
  for (auto _ : state) {
    const ChildResult r = run_child(job, args);
    if (!r.ok) {
      fail(state, job + "/" + args.peer + ": " + r.error);
      return;
    }
    state.SetIterationTime(std::max(1e-9, r.get("seconds")));
    // The child's own VmHWM (peak_rss_MiB) is among the values (see peak_rss_kib()).
    for (const auto& v : r.values)
      if (v.name != "seconds") state.counters[v.name] = v.value;
  }
}

int child_main(int argc, char** argv) {
  if (argc < 6) {
    std::puts("error usage: --weft-child JOB PEER WORKERS SIZE");
    return 2;
  }
  auto it = child_jobs().find(argv[2]);
  if (it == child_jobs().end()) {
    std::printf("error unknown child job %s\n", argv[2]);
    return 2;
  }
  ChildArgs a;
  a.peer = argv[3];
  a.workers = static_cast<unsigned>(std::strtoul(argv[4], nullptr, 10));
  a.size = std::strtoll(argv[5], nullptr, 10);
  try {
    const std::vector<ChildValue> values = it->second(a);
    for (const auto& v : values) std::printf("%s %.17g\n", v.name.c_str(), v.value);
    std::printf("peak_rss_MiB %.17g\n", static_cast<double>(peak_rss_kib()) / 1024.0);
    std::puts("ok");
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
  }
  std::fflush(stdout);
  // Skip static destructors and the default scheduler's shutdown: the job has finished.
  std::_Exit(0);
}

}  // namespace weft_bench

int main(int argc, char** argv) {
  using namespace weft_bench;
  register_switch_benchmarks();
  register_yield_benchmarks();
  register_spawn_benchmarks();
  register_fib_benchmarks();
  register_forkjoin_benchmarks();
  register_skynet_benchmarks();
  register_pfor_benchmarks();
  register_pingpong_benchmarks();
  register_idle_benchmarks();
  register_live_benchmarks();
  register_sync_benchmarks();
  if (argc >= 2 && std::strcmp(argv[1], "--weft-child") == 0) return child_main(argc, argv);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("weft_bench_smoke", config().smoke ? "1" : "0");
  benchmark::AddCustomContext("weft_bench_fib_n", std::to_string(config().fib_n));
#ifdef WEFT_BENCH_OPENMP
  benchmark::AddCustomContext("weft_bench_openmp", "1");
#else
  benchmark::AddCustomContext("weft_bench_openmp", "0");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_failed.load(std::memory_order_relaxed)) {
    std::fputs("weft_bench_core: at least one benchmark failed (see error_message above)\n",
               stderr);
    return 1;
  }
  return 0;
}
