// SPDX-License-Identifier: Apache-2.0
// Shared machinery of weft-stress: the seeded RNG, the failure report (with the seed to
// reproduce), op accounting, spawn/run accounting, bounded waits and sanitizer caps.
#pragma once

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <string>
#include <utility>
#include <weft/weft.hpp>

#if defined(__SANITIZE_THREAD__)
#define WEFT_STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_STRESS_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_STRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_STRESS_ASAN 1
#endif
#endif

namespace stress {

#ifdef WEFT_STRESS_TSAN
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#ifdef WEFT_STRESS_ASAN
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif
inline constexpr bool kSanitized = kTsan || kAsan;

// g++'s TSan runtime aborts beyond ~8,100 live fibers (docs: /work/shared/NOTES.md §6):
// every workload keeps the coroutines alive at once below this.
inline constexpr std::size_t kMaxLive = kTsan ? 1500 : 20000;

// How long any wait inside a workload may take before it counts as a lost wake-up.
inline constexpr std::chrono::seconds kWaitLimit{kSanitized ? 30 : 10};

// How long a Mutex (no acquisition) or a Channel (no value taken) may make no progress
// while coroutines poll it (try_lock / try_recv + yield) before that counts as a livelock:
// a woken owner or sender that never runs behind the pollers' yield loops. A correct
// runtime hands either on within a critical section (a yield or a short sleep at most) or
// one plain thread's futex wake-up: milliseconds even under TSan on a loaded 2-core
// machine, so this bound is generous; yet it reports a livelock long before kWaitLimit,
// which a blocked waiter needs to give up.
inline constexpr std::chrono::seconds kStallLimit{kSanitized ? 8 : 4};

// Progress stamps (steady_clock ticks), relaxed: a stale read only makes a check later.
inline void stamp(std::atomic<std::chrono::steady_clock::rep>& at) noexcept {
  at.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

// fail()s when the object stamped in `at` (`what`) made no progress for kStallLimit while
// the caller polled it. Defined below fail().
inline void expect_progress(const std::atomic<std::chrono::steady_clock::rep>& at,
                            const char* what);

// SplitMix64: small, fast, and good enough to drive random choices.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : s_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
  // Uniform in [lo, hi].
  std::uint64_t range(std::uint64_t lo, std::uint64_t hi) noexcept {
    return lo + below(hi - lo + 1);
  }
  // True with probability pct/100.
  bool chance(unsigned pct) noexcept { return below(100) < pct; }
  // An independent generator (for a child coroutine).
  Rng split() noexcept { return Rng(next() ^ 0x5851f42d4c957f2dULL); }

 private:
  std::uint64_t s_;
};

// A well-mixed 64-bit hash of x (SplitMix64's finalizer).
inline std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A node of a random tree whose shape follows from its seed alone, so that a sequential
// walk of the same tree knows what the concurrent run must produce (spawn-tree,
// fork-join). Each workload salts the seed differently for children and values, and its
// node type (the Derived of this base) adds what else a node decides.
template <class Derived, std::uint64_t kChildSalt, std::uint64_t kValueSalt>
struct SeededNode {
  std::uint64_t seed;
  unsigned depth_left;
  unsigned max_fan;

  unsigned fanout() const {
    return depth_left == 0 ? 0 : static_cast<unsigned>(mix(seed) % (max_fan + 1));
  }
  Derived child(unsigned i) const {
    return Derived{{mix(seed + kChildSalt + i), depth_left - 1, max_fan}};
  }
  std::uint64_t own_value() const { return mix(seed ^ kValueSalt) & 0xffff; }
};

// Where the run is, for failure and watchdog messages (written by the driver).
struct Where {
  std::atomic<const char*> workload{"(startup)"};
  std::atomic<std::uint64_t> round{0};
  std::atomic<const char*> phase{"(startup)"};
  std::uint64_t seed = 0;  // the run's seed (--seed)
  // A command line that repeats the run, set per workload by the driver and read by the
  // watchdog and fail() on other threads: atomic, pointing at a string never freed.
  std::atomic<const std::string*> repro{nullptr};
  const char* repro_line() const noexcept {
    const std::string* r = repro.load(std::memory_order_acquire);
    return r ? r->c_str() : "(none yet)";
  }
};
Where& where() noexcept;

// Prints "weft-stress: FAILED in <workload> round <r> (<phase>): <message>", the seed and a
// command line to reproduce it, then exits with status 1 at once (coroutines still running
// are not waited for: after a broken invariant they may never finish).
[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#define STRESS_CHECK(cond, ...)               \
  do {                                        \
    if (!(cond)) ::stress::fail(__VA_ARGS__); \
  } while (0)

inline void expect_progress(const std::atomic<std::chrono::steady_clock::rep>& at,
                            const char* what) {
  using Clock = std::chrono::steady_clock;
  const Clock::duration idle =
      Clock::now().time_since_epoch() - Clock::duration(at.load(std::memory_order_relaxed));
  STRESS_CHECK(idle < kStallLimit,
               "%s made no progress for %.1f s while coroutines polled it with yield() "
               "(livelock: a woken waiter that never runs?)",
               what, std::chrono::duration<double>(idle).count());
}

// Marks what the driver is doing now.
inline void phase(const char* p) noexcept {
  where().phase.store(p, std::memory_order_relaxed);
}

// Operations done (the unit of --ops): each workload counts what it considers one op.
std::atomic<std::uint64_t>& ops_counter() noexcept;
inline void add_ops(std::uint64_t n) noexcept {
  ops_counter().fetch_add(n, std::memory_order_relaxed);
}

// Coroutines spawned through go() and coroutines that started running: equal at the end of
// every round, and equal to the scheduler's own spawned/completed deltas.
struct Accounting {
  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> ran{0};
};
Accounting& accounting() noexcept;
// Where a coroutine's function was first entered (coroutine id, worker), to tell a second
// entry (a double run) apart.
struct EntryMark {
  std::uint64_t id = 0;
  int worker = -1;
  static EntryMark now() noexcept { return {weft::this_coroutine_id(), weft::current_worker()}; }
};
// fail()s: one coroutine's function was entered a second time.
[[noreturn]] void ran_twice(const EntryMark& first);

// Spawns f() on `s`, counted by accounting().
template <class F>
auto go(weft::Scheduler& s, F f) {
  accounting().spawned.fetch_add(1, std::memory_order_relaxed);
  return s.spawn([fn = std::move(f), first = EntryMark{}]() mutable {
    if (first.id != 0) ran_twice(first);
    first = EntryMark::now();
    accounting().ran.fetch_add(1, std::memory_order_relaxed);
    return fn();
  });
}
// The same with weft::spawn (the calling worker's scheduler; only from coroutines).
template <class F>
auto go(F f) {
  accounting().spawned.fetch_add(1, std::memory_order_relaxed);
  return weft::spawn([fn = std::move(f), first = EntryMark{}]() mutable {
    if (first.id != 0) ran_twice(first);
    first = EntryMark::now();
    accounting().ran.fetch_add(1, std::memory_order_relaxed);
    return fn();
  });
}

// One turn of a polling loop (try_lock, try_send, try_recv): weft::yield() only. Pollers
// that only yield are exactly what starved injected work and timers before the fairness
// bound (docs/DESIGN.md): no sleep here may paper over such a starvation again.
inline void spin_pause(std::uint64_t /*turn*/) {
  weft::yield();
}

// Seconds since `t`, for messages.
inline double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// One round of a workload: do about `ops` operations on `sched`, check the invariants,
// fail() on a violation. Returns once everything the round started has finished.
struct Round {
  weft::Scheduler& sched;
  std::uint64_t seed;
  std::uint64_t ops;
  unsigned workers;
};

struct Workload {
  const char* name;
  const char* summary;
  void (*run)(Round&);
};

}  // namespace stress
