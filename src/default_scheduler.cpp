#include "weft/scheduler.hpp"

namespace weft::detail {

// A function-local static: built on first use (thread-safe), destroyed at exit after
// waiting for the coroutines spawned on it, like any Scheduler.
Core* default_core() {
  static Scheduler instance;
  return instance.core_.get();
}

}  // namespace weft::detail
