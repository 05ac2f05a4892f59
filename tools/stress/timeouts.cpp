// SPDX-License-Identifier: Apache-2.0
// timeouts: coroutines (and a thread) sleep for random short durations and make timed
// waits that must time out on every primitive (Event, Mutex, CondVar, WaitGroup, Channel
// send and recv, an empty pipe), checking that none returns early or claims success; then
// timed waits that race a wake-up arriving around their deadline, checking conservation
// (a timed send that reported success delivered exactly one value).
#include <fcntl.h>
#include <unistd.h>

#include <mutex>
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  weft::Event never;
  weft::Mutex held;  // locked for the whole first part
  weft::Mutex cv_mu;
  weft::CondVar cv;
  weft::WaitGroup stuck;  // count 1 for the whole first part
  weft::Channel<int> full{1};
  weft::Channel<int> empty{0};
  int pipe_r = -1;
};

// One timed wait that must time out, chosen by `kind`; checks it waited at least `d`.
void must_time_out(Shared& s, unsigned kind, std::chrono::microseconds d) {
  const Clock::time_point t0 = Clock::now();
  const char* what = "";
  bool got = false;
  switch (kind % 9) {
    case 0:
      what = "sleep_for";
      weft::sleep_for(d);
      break;
    case 1:
      what = "sleep_until";
      weft::sleep_until(t0 + d);
      break;
    case 2:
      what = "Event::wait_for";
      got = s.never.wait_for(d);
      break;
    case 3:
      what = "Mutex::try_lock_for";
      got = s.held.try_lock_for(d);
      if (got) s.held.unlock();
      break;
    case 4: {
      what = "CondVar::wait_for";
      std::unique_lock lock(s.cv_mu);
      got = s.cv.wait_for(lock, d) == std::cv_status::no_timeout;
      break;
    }
    case 5:
      what = "WaitGroup::wait_for";
      got = s.stuck.wait_for(d);
      break;
    case 6:
      what = "Channel::send_for (full)";
      got = s.full.send_for(2, d);
      break;
    case 7:
      what = "Channel::recv_for (empty)";
      got = s.empty.recv_for(d).has_value();
      break;
    default:
      what = "wait_readable (empty pipe)";
      got = weft::wait_readable(s.pipe_r, d);
      break;
  }
  const auto waited = Clock::now() - t0;
  STRESS_CHECK(!got, "%s(%lld us) reported success on an object that never gets ready", what,
               static_cast<long long>(d.count()));
  // poll(2) on a plain thread rounds to milliseconds, upwards; coroutines wait exactly.
  STRESS_CHECK(waited >= d, "%s(%lld us) returned after only %lld us", what,
               static_cast<long long>(d.count()),
               static_cast<long long>(
                   std::chrono::duration_cast<std::chrono::microseconds>(waited).count()));
  STRESS_CHECK(waited < d + kWaitLimit, "%s(%lld us) took %.1f s: a lost timer", what,
               static_cast<long long>(d.count()), std::chrono::duration<double>(waited).count());
}

}  // namespace

void run_timeouts(Round& r) {
  Rng rng(r.seed);
  std::uint64_t ops = 0;
  // Part 1: waits that must time out.
  {
    phase("timeouts: waits that must time out");
    Shared s;
    int fds[2];
    STRESS_CHECK(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2 failed");
    s.pipe_r = fds[0];
    s.held.lock();
    s.stuck.add(1);
    STRESS_CHECK(s.full.try_send(1), "try_send into an empty channel of capacity 1 failed");
    const std::uint64_t n = rng.range(2, kTsan ? 48 : 200);
    const std::uint64_t each =
        std::max<std::uint64_t>(1, std::min<std::uint64_t>(r.ops / 4 / n, 20));
    std::vector<weft::Task<void>> tasks;
    for (std::uint64_t i = 0; i < n; ++i) {
      tasks.push_back(go(r.sched, [&s, each, seed = rng.next()] {
        Rng crng(seed);
        for (std::uint64_t k = 0; k < each; ++k) {
          must_time_out(s, static_cast<unsigned>(crng.below(9)),
                        std::chrono::microseconds(crng.range(0, 1500)));
        }
      }));
    }
    std::thread t([&s, each, seed = rng.next()] {
      Rng trng(seed);
      for (std::uint64_t k = 0; k < each; ++k) {
        must_time_out(s, static_cast<unsigned>(trng.below(9)),
                      std::chrono::microseconds(trng.range(0, 1500)));
      }
    });
    t.join();
    for (auto& task : tasks) task.join();
    s.held.unlock();
    s.stuck.done();
    STRESS_CHECK(s.full.try_recv() == 1 && s.full.size() == 0,
                 "the full channel lost or gained a value through timed-out sends");
    ::close(fds[0]);
    ::close(fds[1]);
    ops += (n + 1) * each;
  }
  // Part 2: timed waits racing a wake-up near their deadline.
  {
    phase("timeouts: timed waits racing wake-ups");
    const std::uint64_t pairs = rng.range(1, kTsan ? 24 : 100);
    weft::Channel<std::uint64_t> ch(rng.range(0, 1));
    std::atomic<std::uint64_t> sent{0}, sent_sum{0}, recvd{0}, recvd_sum{0};
    weft::Event ev;
    std::atomic<unsigned> ev_true{0};
    std::vector<weft::Task<void>> tasks;
    for (std::uint64_t p = 0; p < pairs; ++p) {
      const auto d = std::chrono::microseconds(rng.range(50, 800));
      tasks.push_back(go(r.sched, [&, p, d] {
        if (ch.send_for(p + 1, d)) {
          sent.fetch_add(1);
          sent_sum.fetch_add(p + 1);
        }
      }));
      tasks.push_back(go(r.sched, [&, d2 = std::chrono::microseconds(rng.range(50, 800))] {
        if (std::optional<std::uint64_t> v = ch.recv_for(d2)) {
          recvd.fetch_add(1);
          recvd_sum.fetch_add(*v);
        }
      }));
      tasks.push_back(go(r.sched, [&, d3 = std::chrono::microseconds(rng.range(50, 800))] {
        if (ev.wait_for(d3)) {
          STRESS_CHECK(ev.is_set(), "Event::wait_for returned true while not set");
          ev_true.fetch_add(1);
        }
      }));
    }
    weft::sleep_for(std::chrono::microseconds(rng.range(0, 600)));
    ev.set();
    for (auto& t : tasks) t.join();
    // What is still buffered counts as sent, not received.
    while (std::optional<std::uint64_t> v = ch.try_recv()) {
      recvd.fetch_add(1);
      recvd_sum.fetch_add(*v);
    }
    STRESS_CHECK(sent.load() == recvd.load() && sent_sum.load() == recvd_sum.load(),
                 "timed Channel ops: %" PRIu64 " sends reported success, %" PRIu64
                 " values received (sums %" PRIu64 " / %" PRIu64 ")",
                 sent.load(), recvd.load(), sent_sum.load(), recvd_sum.load());
    ops += 3 * pairs;
  }
  add_ops(ops);
}

}  // namespace stress
