// SPDX-License-Identifier: Apache-2.0
// destroy: destroy-on-last-use. In pairs of actors (each a coroutine or a plain thread),
// the "woken" one creates a fresh primitive (Mutex, CondVar, Event, WaitGroup, Channel of
// capacity 0 or 1), passes it to its "waker" and blocks on it; the waker wakes it (unlock,
// notify_one/notify_all, set, done, send, recv, close) and the woken one deletes the
// object as soon as its wait returns, while the waker may still be inside the waking
// call. Checks: every wait is released by its waker (bounded by kWaitLimit) with the right
// outcome, and every object is deleted; under ASan/TSan, any touch of a deleted object.
//
// Left to chance, the woken party almost never deletes the object inside the few
// instructions a faulty waker would still spend on it, so every round also forces that
// race once, as tests/wake_protocol_test.cpp does: one pair of plain threads shares a
// single CPU and its waker runs SCHED_IDLE, so the thread it wakes preempts it at the
// wake-up itself and deletes the object before the waker's next instruction.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

enum Kind : unsigned {
  kMutex,
  kCondVarOne,
  kCondVarAll,
  kEvent,
  kWaitGroup,
  kChanSend,   // the waker sends to a blocked receiver
  kChanRecv,   // the waker receives from a blocked sender (refilling a full buffer at cap 1)
  kChanClose,  // the waker closes under a blocked receiver or sender
  kKinds
};

// The CondVar's mutex dies with it: the woken party deletes both.
struct CvBox {
  weft::Mutex mu;
  weft::CondVar cv;
};

struct Job {
  Kind kind = kMutex;
  void* obj = nullptr;
  std::size_t cap = 0;
  bool flag = false;  // kChanClose: the woken party blocks in send (else in recv)
};

std::atomic<std::int64_t>& live() {
  static std::atomic<std::int64_t> n{0};
  return n;
}

template <class T>
void destroy(T* p) {
  delete p;
  live().fetch_sub(1, std::memory_order_relaxed);
}

template <class T, class... A>
T* create(A&&... a) {
  live().fetch_add(1, std::memory_order_relaxed);
  return new T(std::forward<A>(a)...);
}

constexpr const char* kNames[] = {"Mutex",     "CondVar (one)", "CondVar (all)", "Event",
                                  "WaitGroup", "Channel send",  "Channel recv",  "Channel close"};
static_assert(std::size(kNames) == kKinds);

long long limit_s() {
  return static_cast<long long>(kWaitLimit.count());
}

// fail()s unless the woken party's wait on a `k` ended as its waker's wake-up should end it.
void expect_woken(bool ok, Kind k) {
  STRESS_CHECK(ok, "the woken party's wait on a %s did not end as woken within %lld s", kNames[k],
               limit_s());
}

// The woken side of one job: creates the object, hands it to the waker through `to_waker`,
// blocks until woken, deletes it.
void woken_side(weft::Channel<Job>& to_waker, Rng& rng) {
  Job j;
  j.kind = static_cast<Kind>(rng.below(kKinds));
  j.cap = rng.below(2);
  j.flag = rng.chance(50);
  auto hand_over = [&] {
    STRESS_CHECK(to_waker.send_for(j, kWaitLimit), "the waker took no job for %lld s", limit_s());
  };
  switch (j.kind) {
    case kMutex: {
      auto* m = create<weft::Mutex>();
      m->lock();  // the waker unlocks it: a hand-off if we queued by then
      j.obj = m;
      hand_over();
      expect_woken(m->try_lock_for(kWaitLimit), j.kind);
      m->unlock();
      destroy(m);
      return;
    }
    case kCondVarOne:
    case kCondVarAll: {
      auto* b = create<CvBox>();
      j.obj = b;
      std::unique_lock<weft::Mutex> lock(b->mu);
      // Handed over while we hold mu: the waker's notify comes after it took and released
      // mu, so after we queued on cv, and with no spurious wake-ups only it releases us.
      hand_over();
      expect_woken(b->cv.wait_for(lock, kWaitLimit) == std::cv_status::no_timeout, j.kind);
      lock.unlock();
      destroy(b);
      return;
    }
    case kEvent: {
      auto* e = create<weft::Event>();
      j.obj = e;
      hand_over();
      expect_woken(e->wait_for(kWaitLimit), j.kind);
      destroy(e);
      return;
    }
    case kWaitGroup: {
      auto* wg = create<weft::WaitGroup>();
      wg->add(1);
      j.obj = wg;
      hand_over();
      expect_woken(wg->wait_for(kWaitLimit), j.kind);
      destroy(wg);
      return;
    }
    case kChanSend: {
      auto* ch = create<weft::Channel<std::uint64_t>>(j.cap);
      j.obj = ch;
      hand_over();
      const std::optional<std::uint64_t> v = ch->recv_for(kWaitLimit);
      expect_woken(v == std::optional<std::uint64_t>(42), j.kind);
      destroy(ch);
      return;
    }
    case kChanRecv: {
      auto* ch = create<weft::Channel<std::uint64_t>>(j.cap);
      if (j.cap) ch->try_send(1);  // full: our send blocks until the waker's recv
      j.obj = ch;
      hand_over();
      expect_woken(ch->send_for(std::uint64_t{42}, kWaitLimit), j.kind);
      destroy(ch);  // at capacity 1 our value is still buffered: it dies with the channel
      return;
    }
    case kChanClose: {
      auto* ch = create<weft::Channel<std::uint64_t>>(j.cap);
      if (j.flag && j.cap) ch->try_send(1);  // full: our send blocks
      j.obj = ch;
      hand_over();
      if (j.flag) {
        expect_woken(!ch->send_for(std::uint64_t{42}, kWaitLimit) && ch->closed(), j.kind);
      } else {
        expect_woken(!ch->recv_for(kWaitLimit) && ch->closed(), j.kind);
      }
      destroy(ch);
      return;
    }
    case kKinds:
      break;
  }
}

// The waker side: takes one job and wakes its woken party, sometimes after a pause so
// that the woken party is parked by then. It never touches the object afterwards.
void waker_side(weft::Channel<Job>& from_woken, Rng& rng) {
  std::optional<Job> got = from_woken.recv_for(kWaitLimit);
  STRESS_CHECK(got.has_value(), "the woken party sent no job for %lld s", limit_s());
  const Job j = *got;
  if (rng.chance(50)) {
    if (weft::in_coroutine() && rng.chance(50)) {
      weft::yield();
    } else {
      weft::sleep_for(std::chrono::microseconds(rng.below(50)));
    }
  }
  switch (j.kind) {
    case kMutex:
      static_cast<weft::Mutex*>(j.obj)->unlock();
      return;
    case kCondVarOne:
    case kCondVarAll: {
      auto* b = static_cast<CvBox*>(j.obj);
      // The woken party queued on cv before it released mu.
      STRESS_CHECK(b->mu.try_lock_for(kWaitLimit), "the CondVar's mutex stayed locked %lld s",
                   limit_s());
      b->mu.unlock();
      if (j.kind == kCondVarOne) {
        b->cv.notify_one();
      } else {
        b->cv.notify_all();
      }
      return;
    }
    case kEvent:
      static_cast<weft::Event*>(j.obj)->set();
      return;
    case kWaitGroup:
      static_cast<weft::WaitGroup*>(j.obj)->done();
      return;
    case kChanSend:
      STRESS_CHECK(static_cast<weft::Channel<std::uint64_t>*>(j.obj)->send_for(42, kWaitLimit),
                   "send_for() to the woken receiver failed for %lld s", limit_s());
      return;
    case kChanRecv: {
      const std::optional<std::uint64_t> v =
          static_cast<weft::Channel<std::uint64_t>*>(j.obj)->recv_for(kWaitLimit);
      STRESS_CHECK(v == std::optional<std::uint64_t>(j.cap ? 1 : 42),
                   "recv_for() from the woken sender got nothing or the wrong value");
      return;
    }
    case kChanClose:
      static_cast<weft::Channel<std::uint64_t>*>(j.obj)->close();
      return;
    case kKinds:
      break;
  }
}

// Pins the calling thread to `cpu` (best effort: without it the race is only rarer).
void pin_to(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

// Lowers the calling thread to SCHED_IDLE (always permitted): a normal thread it wakes on
// its CPU runs before it takes another step.
void become_idle_priority() {
  sched_param p{};
  p.sched_priority = 0;
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
}

// One of the CPUs this process may run on, at random.
int random_cpu(Rng& rng) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) == 0) return 0;
  std::uint64_t k = rng.below(static_cast<std::uint64_t>(CPU_COUNT(&set)));
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set) && k-- == 0) return cpu;
  }
  return 0;
}

// Steps of the pinned pair per round: a SCHED_IDLE thread on a busy CPU gets a sliver of
// it, and the race it forces shows up on its first wake-up of a parked thread.
constexpr std::uint64_t kPinnedSteps = 32;

}  // namespace

void run_destroy(Round& r) {
  Rng rng(r.seed);
  phase("destroy: woken party deletes");
  const std::uint64_t npairs = rng.range(1, kTsan ? 8 : 32);
  const std::uint64_t steps = std::max<std::uint64_t>(1, r.ops / npairs);
  const unsigned max_threads = 4;  // plain threads are costly: a few pairs use them
  unsigned threads_used = 0;
  std::vector<std::unique_ptr<weft::Channel<Job>>> links;
  std::vector<weft::Task<void>> tasks;
  std::vector<std::thread> threads;
  for (std::uint64_t p = 0; p < npairs; ++p) {
    links.push_back(std::make_unique<weft::Channel<Job>>(1));
    weft::Channel<Job>& link = *links.back();
    auto woken = [&link, steps, seed = rng.next()] {
      Rng wrng(seed);
      for (std::uint64_t k = 0; k < steps; ++k) woken_side(link, wrng);
    };
    auto waker = [&link, steps, seed = rng.next()] {
      Rng krng(seed);
      for (std::uint64_t k = 0; k < steps; ++k) waker_side(link, krng);
    };
    if (threads_used < max_threads && rng.chance(25)) {
      threads.emplace_back(woken);
      ++threads_used;
    } else {
      tasks.push_back(go(r.sched, woken));
    }
    if (threads_used < max_threads && rng.chance(25)) {
      threads.emplace_back(waker);
      ++threads_used;
    } else {
      tasks.push_back(go(r.sched, waker));
    }
  }
  // The pinned pair (see the top of the file).
  links.push_back(std::make_unique<weft::Channel<Job>>(1));
  const std::uint64_t pinned_steps = std::min(steps, kPinnedSteps);
  const int cpu = random_cpu(rng);
  threads.emplace_back([&link = *links.back(), pinned_steps, cpu, seed = rng.next()] {
    pin_to(cpu);
    Rng wrng(seed);
    for (std::uint64_t k = 0; k < pinned_steps; ++k) woken_side(link, wrng);
  });
  threads.emplace_back([&link = *links.back(), pinned_steps, cpu, seed = rng.next()] {
    pin_to(cpu);
    become_idle_priority();
    Rng krng(seed);
    for (std::uint64_t k = 0; k < pinned_steps; ++k) waker_side(link, krng);
  });
  for (auto& t : tasks) t.join();
  for (auto& t : threads) t.join();
  STRESS_CHECK(live().load() == 0, "%lld primitives never deleted",
               static_cast<long long>(live().load()));
  add_ops(npairs * steps + pinned_steps);
}

}  // namespace stress
