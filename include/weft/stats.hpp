// weft::Stats — monotone counters a Scheduler keeps (sums over its workers).
#pragma once

#include <cstdint>

namespace weft {

struct Stats {
  std::uint64_t spawned = 0;    // coroutines created on this scheduler
  std::uint64_t completed = 0;  // coroutines whose function returned or threw
  std::uint64_t switches = 0;   // stack switches made by the workers
  std::uint64_t steals = 0;     // coroutines taken from another worker's deque
  std::uint64_t parks = 0;      // times a worker went to sleep for lack of work
};

}  // namespace weft
