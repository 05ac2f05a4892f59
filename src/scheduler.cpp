// SPDX-License-Identifier: Apache-2.0
#include "weft/scheduler.hpp"

#include <cstdio>
#include <cstdlib>

#include "core.hpp"

namespace weft {

Scheduler::Scheduler(Options options) : core_(std::make_unique<detail::Core>(options)) {}

Scheduler::~Scheduler() {
  if (detail::core_forked_away(core_.get())) {
    // In a fork()ed child: the workers to join do not exist here, and what they own may
    // be in any state. Leak it deliberately (kept reachable) rather than touch it.
    detail::abandon_forked_core(core_.release());
    return;
  }
  if (detail::current_core() == core_.get()) {
    // Waiting for every coroutine from inside one of them can never finish.
    std::fputs("weft: a Scheduler was destroyed from one of its own coroutines\n", stderr);
    std::abort();
  }
  core_->shutdown();
}

Stats Scheduler::stats() const {
  return core_->stats();
}

unsigned Scheduler::workers() const noexcept {
  return core_->size();
}

const Options& Scheduler::options() const noexcept {
  return core_->options();
}

}  // namespace weft
