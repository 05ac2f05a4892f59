// SPDX-License-Identifier: Apache-2.0
/// @file
/// weft::Scheduler — a fixed pool of worker pthreads running coroutines.
#pragma once

#include <memory>
#include <utility>

#include "weft/options.hpp"
#include "weft/stats.hpp"
#include "weft/task.hpp"

namespace weft {

/// fork(): a child process has only the thread that forked, none of any scheduler's
/// workers. In the child, every Scheduler created before the fork is unusable and says so:
/// spawn() and joining one of its Tasks throw std::logic_error ("weft: this scheduler was
/// created before fork(); ..."), and its destructor returns at once, leaking the old
/// scheduler's memory on purpose (its threads cannot be joined). The child's default
/// scheduler (weft::spawn from a plain thread) is a fresh one, and new Schedulers work.
/// The parent is unaffected. Call fork() from a plain thread, not from a coroutine.
///
/// The default scheduler behind weft::spawn is never destroyed: at exit (std::atexit,
/// registered when it is first used) it waits for its coroutines and joins its workers;
/// a later weft::spawn, e.g. from the destructor of a static, throws std::logic_error.
class Scheduler {
 public:
  /// Starts the workers. Throws std::invalid_argument naming the field and its accepted
  /// range when `options` is out of range, std::system_error when a thread cannot start.
  explicit Scheduler(Options options = {});
  /// Waits for every coroutine spawned on this scheduler to finish, then joins the workers
  /// (in a fork()ed child: returns at once, see above).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Runs f(args...) in a new coroutine; callable from any thread, inside or outside the pool.
  template <class F, class... A>
  auto spawn(F&& f, A&&... args) {
    return detail::make_task(core_.get(), std::forward<F>(f), std::forward<A>(args)...);
  }
  /// spawn(...).join(), for main().
  template <class F, class... A>
  auto run(F&& f, A&&... args) {
    return spawn(std::forward<F>(f), std::forward<A>(args)...).join();
  }

  /// A snapshot of the counters, per worker and summed (see weft/stats.hpp). Each counter is
  /// exact; the snapshot as a whole is not atomic while coroutines run.
  Stats stats() const;
  /// The number of worker threads.
  unsigned workers() const noexcept;
  /// The options in force: workers resolved, stack_size rounded up to whole pages.
  const Options& options() const noexcept;

 private:
  std::unique_ptr<detail::Core> core_;
};

}  // namespace weft
