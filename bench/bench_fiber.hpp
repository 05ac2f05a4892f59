// SPDX-License-Identifier: Apache-2.0
// Boost.Fiber thread pools for the multi-worker peers.
//
// Boost.Fiber's work_stealing algorithm keeps a process-wide registry (a static barrier
// sized by the first pool), so a process can build one such pool only: every benchmark
// that uses it runs in a fresh child process (run_child). With one worker the default
// round_robin scheduler of the calling thread is used (work_stealing(1) would look for a
// victim other than itself forever).
//
// suspend=true makes idle pool threads sleep on a condition variable; Boost's default is
// suspend=false, under which idle threads spin at 100% CPU.
#pragma once

#include <boost/fiber/all.hpp>
#include <mutex>
#include <thread>
#include <vector>

namespace weft_bench {

// Runs f() on the calling thread's main fiber, with workers-1 helper threads joining the
// work_stealing pool; returns f()'s value. Call once per process.
template <class F>
auto with_fiber_pool(unsigned workers, bool suspend, F&& f) {
  namespace bf = boost::fibers;
  if (workers <= 1) return f();
  bool done = false;
  bf::mutex mu;
  bf::condition_variable_any cv;
  std::vector<std::thread> helpers;
  for (unsigned i = 1; i < workers; ++i) {
    helpers.emplace_back([&] {
      bf::use_scheduling_algorithm<bf::algo::work_stealing>(workers, suspend);
      std::unique_lock<bf::mutex> lock(mu);
      cv.wait(lock, [&] { return done; });
    });
  }
  bf::use_scheduling_algorithm<bf::algo::work_stealing>(workers, suspend);
  auto result = f();
  {
    std::unique_lock<bf::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  for (auto& t : helpers) t.join();
  return result;
}

}  // namespace weft_bench
