// SPDX-License-Identifier: Apache-2.0
// weft::Channel under randomized schedules: for many seeds, producers and consumers pick
// random operations (blocking, try_ and timed sends and receives, yields between them) on a
// channel of random capacity while a closer closes it at a random point; consumers drain. On one
// worker the interleaving is a function of the seed (timeouts aside), so the checks that need a
// quiescent channel can be exact: try_send into a buffer with room and try_recv from a non-empty
// buffer must succeed. Every run checks that each value sent successfully is received exactly once,
// that each consumer sees each producer's values in order, that nothing refused is
// received, that only a closed channel refuses, and that the buffer stays within capacity.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft_test::scaled;
using weft_test::Watchdog;

// xorshift64*: a seed fixes every choice the test makes.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  std::uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1DULL;
  }
  unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }

 private:
  std::uint64_t s_;
};

// A message: producer index and its sequence number.
struct Msg {
  std::uint32_t producer;
  std::uint32_t seq;
};

struct Trial {
  std::uint64_t seed;
  unsigned capacity, producers, consumers, per_producer;
  bool exact;  // one worker: exact checks on try_ operations are valid

  weft::Channel<Msg> ch{capacity};
  std::vector<std::atomic<int>> got;       // times each (producer, seq) was received
  std::vector<std::atomic<bool>> sent;     // its send returned true
  std::atomic<std::uint64_t> received{0};  // values received in all
  std::atomic<std::uint64_t> accepted{0};  // sends that returned true
  std::atomic<std::uint64_t> violations{0};

  Trial(std::uint64_t s, unsigned cap, unsigned p, unsigned c, unsigned n, bool one_worker)
      : seed(s),
        capacity(cap),
        producers(p),
        consumers(c),
        per_producer(n),
        exact(one_worker),
        got(static_cast<std::size_t>(p) * n),
        sent(static_cast<std::size_t>(p) * n) {}

  std::size_t slot(const Msg& m) const {
    return static_cast<std::size_t>(m.producer) * per_producer + m.seq;
  }
  void violation(const char* what) {
    if (violations.fetch_add(1) == 0) ADD_FAILURE() << "seed " << seed << ": " << what;
  }

  void produce(unsigned p, Rng rng) {
    for (std::uint32_t seq = 0; seq < per_producer; ++seq) {
      Msg m{p, seq};
      bool ok = false;
      switch (rng.below(4)) {
        case 0:
          ok = ch.send(m);
          break;
        case 1: {
          // Retried until it goes through (or the channel closes); exact on one worker:
          // room in the buffer means success.
          for (;;) {
            const std::size_t before = ch.size();
            if (ch.try_send(m)) {
              ok = true;
              break;
            }
            if (exact && !ch.closed() && before < capacity) violation("try_send failed with room");
            if (ch.closed()) break;
            weft::yield();
          }
          break;
        }
        case 2:
          while (!(ok = ch.send_for(m, std::chrono::microseconds(rng.below(300)))) &&
                 !ch.closed()) {
            weft::yield();  // timed out: let the consumers run
          }
          break;
        default:
          ok = ch.send_for(m, 1s);  // long enough never to expire here
          break;
      }
      if (ch.size() > capacity) violation("buffer above capacity");
      if (ok) {
        sent[slot(m)].store(true);
        accepted.fetch_add(1);
      } else if (!ch.closed()) {
        violation("a send failed on an open channel");
      }
      if (rng.below(3) == 0) weft::yield();
    }
  }

  // Closes the channel after a random number of yields: producers may still be sending
  // (blocked senders must fail, later sends too) and consumers still receiving.
  void close_later(Rng rng) {
    const unsigned yields = rng.below(producers * per_producer * 2);
    for (unsigned i = 0; i < yields; ++i) weft::yield();
    ch.close();
  }

  void consume(Rng rng) {
    std::vector<std::int64_t> last(producers, -1);  // per producer: the last seq seen here
    for (;;) {
      std::optional<Msg> m;
      switch (rng.below(3)) {
        case 0:
          m = ch.recv();
          if (!m && !ch.closed()) violation("recv returned nothing on an open channel");
          break;
        case 1: {
          const std::size_t before = ch.size();
          m = ch.try_recv();
          if (exact && !m && before > 0) violation("try_recv failed on a non-empty buffer");
          break;
        }
        default:
          m = ch.recv_for(std::chrono::microseconds(rng.below(300)));
          break;
      }
      if (!m) {
        if (!ch.closed()) {  // nothing yet (try_recv) or timed out: let the others run
          weft::yield();
          continue;
        }
        // Closed: recv() drains what is buffered, then reports the end.
        m = ch.recv();
        if (!m) {
          if (ch.try_recv()) violation("a value was left after recv reported the end");
          return;
        }
      }
      if (m->producer >= producers || m->seq >= per_producer) {
        violation("a value nobody sent");
        return;
      }
      got[slot(*m)].fetch_add(1);
      received.fetch_add(1);
      if (static_cast<std::int64_t>(m->seq) <= last[m->producer]) {
        violation("a producer's values out of order");
      }
      last[m->producer] = m->seq;
      if (rng.below(3) == 0) weft::yield();
    }
  }

  void check() {
    EXPECT_EQ(received.load(), accepted.load()) << "seed " << seed;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const int expected = sent[i].load() ? 1 : 0;
      if (got[i].load() != expected) {
        ADD_FAILURE() << "seed " << seed << ": value " << i << " received " << got[i].load()
                      << " times, its send " << (expected ? "succeeded" : "failed");
        return;
      }
    }
    EXPECT_EQ(violations.load(), 0u) << "seed " << seed;
    EXPECT_EQ(ch.size(), 0u) << "seed " << seed;
  }
};

// Spawns the run's producers and consumers on `sched` (and, if `thread_consumer`, one
// consumer on a plain thread) and waits for them.
void play(weft::Scheduler& sched, Trial& run, Rng& rng, bool thread_consumer) {
  std::vector<weft::Task<void>> tasks;
  std::thread outside;
  for (unsigned c = 0; c < run.consumers; ++c) {
    Rng r(rng.next());
    if (thread_consumer && c == 0) {
      outside = std::thread([&run, r] { run.consume(r); });
    } else {
      tasks.push_back(sched.spawn([&run, r] { run.consume(r); }));
    }
  }
  for (unsigned p = 0; p < run.producers; ++p) {
    Rng r(rng.next());
    tasks.push_back(sched.spawn([&run, p, r] { run.produce(p, r); }));
  }
  tasks.push_back(sched.spawn([&run, r = Rng(rng.next())] { run.close_later(r); }));
  for (auto& t : tasks) t.join();
  if (outside.joinable()) outside.join();
}

TEST(ChannelModel, RandomSchedulesOnOneWorker) {
  Watchdog dog("RandomSchedulesOnOneWorker");
  const std::uint64_t seeds = scaled(400, 200);
  weft::Scheduler sched({.workers = 1});
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    Rng rng(seed);
    Trial run(seed, rng.below(4), 1 + rng.below(3), 1 + rng.below(3), 20 + rng.below(40), true);
    play(sched, run, rng, false);
    run.check();
    if (HasFailure()) break;  // one seed's report is enough
  }
}

TEST(ChannelModel, RandomSchedulesOnTwoWorkersWithAThreadConsumer) {
  Watchdog dog("RandomSchedulesOnTwoWorkersWithAThreadConsumer");
  const std::uint64_t seeds = scaled(200, 100);
  weft::Scheduler sched({.workers = 2});
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    Rng rng(seed ^ 0xABCDEF);
    Trial run(seed, rng.below(4), 1 + rng.below(3), 1 + rng.below(3), 20 + rng.below(40), false);
    play(sched, run, rng, seed % 2 == 0);
    run.check();
    if (HasFailure()) break;
  }
}

}  // namespace
