// SPDX-License-Identifier: Apache-2.0
// Shared helpers of the weft test suite: sanitizer detection (to scale counts down,
// never to skip), a CPU-burning loop the optimizer cannot remove, bounded waits and a
// watchdog that turns a hang into a prompt failure.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "weft/weft.hpp"

#if defined(__SANITIZE_THREAD__)
#define WEFT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TEST_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_TEST_ASAN 1
#endif
#endif

namespace weft_test {

#ifdef WEFT_TEST_TSAN
inline constexpr bool kUnderTsan = true;
#else
inline constexpr bool kUnderTsan = false;
#endif

#ifdef WEFT_TEST_ASAN
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif

inline constexpr bool kUnderSanitizer = kUnderTsan || kUnderAsan;

// The page size (64 KiB-page kernels exist: no test may assume 4096), and `n` rounded up
// to whole pages, as the Scheduler rounds stack and guard sizes.
inline std::size_t page_size() {
  return static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}
inline std::size_t whole_pages(std::size_t n) {
  return (n + page_size() - 1) / page_size() * page_size();
}

// Built to run under a user-mode emulator (a cross build with CMAKE_CROSSCOMPILING_EMULATOR,
// such as the aarch64 preset under qemu-aarch64-static; tests/CMakeLists.txt defines
// WEFT_TEST_EMULATED). No count is reduced there (the whole suite takes about two
// minutes under qemu on two cores). Under it:
//  - death tests fork instead of re-executing (use_death_test_child_process() below);
//  - tests that run one of this project's programs through a shell prefix it with the
//    emulator (kEmulatorPrefix), since the kernel cannot execute it directly;
//  - three tests skip, visibly, naming the emulator's limit (SKIP_UNDER_EMULATOR): the
//    RLIMIT_AS ones (qemu-user does not apply the guest's RLIMIT_AS, which would bind
//    qemu's own reservations) and the unprivileged user namespace one (qemu-user runs
//    threads of its own, and unshare(CLONE_NEWUSER) refuses a multi-threaded caller).
#ifdef WEFT_TEST_EMULATED
inline constexpr bool kUnderEmulator = true;
inline constexpr const char* kEmulatorPrefix = WEFT_TEST_EMULATOR " ";
#else
inline constexpr bool kUnderEmulator = false;
inline constexpr const char* kEmulatorPrefix = "";
#endif
#define SKIP_UNDER_EMULATOR(why)                                                    \
  do {                                                                              \
    if (weft_test::kUnderEmulator) GTEST_SKIP() << "under the emulator: " << (why); \
  } while (0)

// Death tests run the death statement in a child process. Natively the child re-executes
// the test binary ("threadsafe" style), so it starts with no other thread's state. Under
// an emulator the kernel cannot execute the binary itself (that needs binfmt_misc, which
// containers and CI machines lack: execv fails with ENOEXEC), so there the child is
// forked ("fast" style). ctest runs every test in a process of its own, and the death
// statements build the schedulers they kill, so the child inherits little else.
inline void use_death_test_child_process() {
  GTEST_FLAG_SET(death_test_style, kUnderEmulator ? "fast" : "threadsafe");
}

// `normal` in a plain build, `tsan` under ThreadSanitizer, `asan` under AddressSanitizer.
template <class T>
constexpr T scaled(T normal, T tsan, T asan) {
  return kUnderTsan ? tsan : (kUnderAsan ? asan : normal);
}
template <class T>
constexpr T scaled(T normal, T sanitized) {
  return kUnderSanitizer ? sanitized : normal;
}

// Burns CPU for `iters` iterations; the asm barrier keeps the loop from being folded away.
inline std::uint64_t burn(std::uint64_t iters) {
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (std::uint64_t i = 0; i < iters; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    asm volatile("" : "+r"(x));
  }
  return x;
}

// Iterations of burn() that take about `us` microseconds on this machine (measured once).
inline std::uint64_t iters_for_us(double us) {
  static const double per_us = [] {
    constexpr std::uint64_t kProbe = 2'000'000;
    double best = 1e300;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      burn(kProbe);
      auto t1 = std::chrono::steady_clock::now();
      double d = std::chrono::duration<double, std::micro>(t1 - t0).count();
      if (d < best) best = d;
    }
    return static_cast<double>(kProbe) / (best > 0 ? best : 1.0);
  }();
  double n = per_us * us;
  return n < 1 ? 1 : static_cast<std::uint64_t>(n);
}

// Spins (yielding the thread, not a coroutine) until pred() or the deadline; returns pred().
template <class Pred>
bool spin_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::yield();
  }
  return true;
}

// Aborts the process with a message if not destroyed within `limit`: a hang in the
// runtime (lost wake-up, deadlocked join) becomes a failure instead of a CI timeout.
class Watchdog {
 public:
  explicit Watchdog(const char* what, std::chrono::seconds limit = std::chrono::seconds(60))
      : thread_([this, what, limit] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return disarmed_; })) {
            std::fprintf(stderr, "weft test watchdog: '%s' still running after %llds; aborting\n",
                         what, static_cast<long long>(limit.count()));
            std::fflush(stderr);
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      disarmed_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

// CPU time (user + system) the whole process has used so far, in ms.
inline double process_cpu_ms() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
  };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

// One root coroutine on `sched` spawns `children` of about `us` microseconds each and stays
// busy (bounded) until some other worker has run one, so on a working scheduler with two
// or more workers at least one child is stolen. Returns how many ran off the root's worker.
inline int run_with_a_steal(weft::Scheduler& sched, int children, double us) {
  const std::uint64_t work = iters_for_us(us);
  std::atomic<int> elsewhere{0};
  sched.run([&] {
    const int home = weft::current_worker();
    std::vector<weft::Task<void>> kids;
    for (int i = 0; i < children; ++i) {
      kids.push_back(weft::spawn([&, home] {
        if (weft::current_worker() != home) elsewhere.fetch_add(1);
        burn(work);
      }));
    }
    spin_until([&] { return elsewhere.load() > 0; }, std::chrono::seconds(10));
    for (auto& k : kids) k.join();
  });
  return elsewhere.load();
}

// A non-blocking pipe, closed on destruction (an end set to -1 is left alone).
struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe2");
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void close_write() {
    ::close(w);
    w = -1;
  }
};

// Address space the process has mapped now, in bytes (VmSize of /proc/self/status).
inline std::size_t mapped_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmSize:") {
      std::size_t kib = 0;
      in >> kib;
      return kib * 1024;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace weft_test
