// SPDX-License-Identifier: Apache-2.0
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <system_error>

#include "core.hpp"
#include "weft/detail/runtime.hpp"

namespace weft::detail {
namespace {

// The default scheduler's Core is made on first use and never freed, so that it outlives
// every static: a static destroyed after the exit handler below has run still reaches a
// live object, and its weft::spawn gets the clear "shutting down" std::logic_error. The
// pointer stays reachable, so LeakSanitizer does not count it.
//
// Published with release/acquire: a thread that reads the pointer without the lock sees
// the Core fully constructed.
std::atomic<Core*> g_default{nullptr};
// Serializes creation. Held across fork() (pthread_atfork) so the child never inherits
// it locked by a thread that does not exist there.
std::mutex g_default_mu;
bool g_exit_handler_registered = false;  // under g_default_mu; inherited by a child

// Runs at exit, in the usual reverse order of registration: registered right after the
// first default Core is made, so after every static constructed before it is destroyed.
// Waits for the default scheduler's coroutines and joins its workers, as ~Scheduler does.
void shut_down_default_at_exit() {
  Core* c = g_default.load(std::memory_order_acquire);
  if (!c || core_forked_away(c)) return;  // a parent's, in a fork()ed child: nothing to join
  if (current_core() == c) {
    // Waiting for every coroutine from inside one of them can never finish.
    std::fputs("weft: exit() was called from a coroutine of the default scheduler\n", stderr);
    std::abort();
  }
  c->shutdown();
}

void register_fork_handlers() {
  static const int rc = pthread_atfork([] { g_default_mu.lock(); }, [] { g_default_mu.unlock(); },
                                       [] { g_default_mu.unlock(); });
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "weft: pthread_atfork");
}

}  // namespace

Core* default_core() {
  Core* c = g_default.load(std::memory_order_acquire);
  if (c && !core_forked_away(c)) return c;
  register_fork_handlers();
  std::lock_guard lock(g_default_mu);
  c = g_default.load(std::memory_order_relaxed);
  if (c && !core_forked_away(c)) return c;
  // None yet, or the parent's in a fork()ed child: its threads are gone, make a fresh one.
  if (c) abandon_forked_core(c);
  c = new Core(Options{});
  g_default.store(c, std::memory_order_release);
  if (!g_exit_handler_registered) {
    if (std::atexit(&shut_down_default_at_exit) != 0) {
      std::fputs("weft: cannot register the default scheduler's exit handler\n", stderr);
      std::abort();
    }
    g_exit_handler_registered = true;
  }
  return c;
}

}  // namespace weft::detail
