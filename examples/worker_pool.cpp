// SPDX-License-Identifier: Apache-2.0
// A worker pool: a fixed number of coroutines take jobs from a shared queue guarded by a
// weft::Mutex, and a weft::WaitGroup tells the main thread when every job is done. Both
// primitives suspend only the waiting coroutine, and the main thread (not a coroutine)
// waits on the same WaitGroup by blocking.
#include <cstdio>
#include <deque>
#include <mutex>
#include <vector>
#include <weft/weft.hpp>

int main() {
  constexpr int kJobs = 64;
  constexpr int kPoolSize = 4;
  weft::Mutex mu;
  std::deque<int> queue;  // guarded by mu
  long total = 0;         // guarded by mu
  std::vector<int> done_by(kPoolSize, 0);
  for (int j = 1; j <= kJobs; ++j) queue.push_back(j);

  weft::WaitGroup jobs_left;
  jobs_left.add(kJobs);
  // Declared after the state its coroutines use, so it is destroyed first: ~Scheduler
  // waits for the pool coroutines, which still lock `mu` on their way out after the last
  // done().
  weft::Scheduler sched({.workers = 2});
  for (int p = 0; p < kPoolSize; ++p) {
    sched
        .spawn([&, p] {
          for (;;) {
            int job;
            {
              std::lock_guard<weft::Mutex> lock(mu);
              if (queue.empty()) return;
              job = queue.front();
              queue.pop_front();
            }
            weft::sleep_for(std::chrono::microseconds(100));  // "work" that waits, like I/O
            {
              std::lock_guard<weft::Mutex> lock(mu);
              total += job;
              ++done_by[static_cast<std::size_t>(p)];
            }
            jobs_left.done();
          }
        })
        .detach();
  }

  jobs_left.wait();  // a plain thread: blocks until every job called done()
  // How the jobs spread over the pool depends on scheduling; the total does not.
  {
    std::lock_guard<weft::Mutex> lock(mu);
    std::printf("%d jobs done by a pool of %d (jobs each:", kJobs, kPoolSize);
    for (int n : done_by) std::printf(" %d", n);
    std::printf("), total %ld\n", total);
  }
  return total == static_cast<long>(kJobs) * (kJobs + 1) / 2 ? 0 : 1;
}
