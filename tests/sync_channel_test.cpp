// SPDX-License-Identifier: Apache-2.0
// weft::Channel<T>: FIFO order, many producers and consumers (coroutines on several workers
// and plain threads) with nothing lost or duplicated, rendezvous (capacity 0), close
// semantics, timeouts, move-only and counted element types, and a blocked coroutine that
// leaves its worker free.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_util.hpp"
#include "weft/channel.hpp"
#include "weft/time.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft_test::scaled;
using weft_test::Watchdog;

TEST(Channel, BufferedFifoAndNonBlockingCalls) {
  weft::Channel<int> ch(3);
  EXPECT_EQ(ch.capacity(), 3u);
  EXPECT_FALSE(ch.try_recv());
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(ch.try_send(i));
  EXPECT_FALSE(ch.try_send(4));
  int keep = 9;
  EXPECT_FALSE(ch.try_send(keep));
  EXPECT_EQ(keep, 9);
  EXPECT_EQ(ch.size(), 3u);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(ch.recv(), i);
  EXPECT_EQ(ch.size(), 0u);
  EXPECT_TRUE(ch.send(5));
  EXPECT_EQ(ch.try_recv(), 5);
}

// 8 producers and 8 consumers, half of each coroutines (on 4 workers) and half plain
// threads. Sums and counts match, and each consumer sees every producer's values in order.
void many_to_many(std::size_t capacity, long total) {
  weft::Scheduler sched({.workers = 4});
  weft::Channel<std::uint64_t> ch(capacity);
  constexpr int kProducers = 8, kConsumers = 8;
  const long per_producer = total / kProducers;

  auto produce = [&](int p) {
    for (long i = 0; i < per_producer; ++i) {
      if (!ch.send((std::uint64_t(p) << 32) | std::uint64_t(i))) return false;
    }
    return true;
  };
  struct Tally {
    long n = 0;
    std::uint64_t sum = 0;
    bool ordered = true;
  };
  auto consume = [&] {
    Tally t;
    std::vector<long> last(kProducers, -1);
    while (std::optional<std::uint64_t> v = ch.recv()) {
      const int p = static_cast<int>(*v >> 32);
      const long i = static_cast<long>(*v & 0xffffffffu);
      if (i <= last[p]) t.ordered = false;
      last[p] = i;
      ++t.n;
      t.sum += static_cast<std::uint64_t>(i);
    }
    return t;
  };

  std::vector<weft::Task<bool>> co_producers;
  std::vector<weft::Task<Tally>> co_consumers;
  std::vector<std::thread> threads;
  std::vector<Tally> thread_tallies(kConsumers / 2);
  std::atomic<int> thread_producers_ok{0};
  for (int c = 0; c < kConsumers; ++c) {
    if (c % 2)
      co_consumers.push_back(sched.spawn(consume));
    else
      threads.emplace_back([&, c] { thread_tallies[c / 2] = consume(); });
  }
  std::vector<std::thread> producer_threads;
  for (int p = 0; p < kProducers; ++p) {
    if (p % 2)
      co_producers.push_back(sched.spawn(produce, p));
    else
      producer_threads.emplace_back([&, p] { thread_producers_ok += produce(p) ? 1 : 0; });
  }
  for (auto& t : co_producers) EXPECT_TRUE(t.join());
  for (auto& t : producer_threads) t.join();
  EXPECT_EQ(thread_producers_ok.load(), kProducers / 2);
  ch.close();  // consumers drain what is buffered, then get nullopt

  Tally all;
  auto add = [&](const Tally& t) {
    all.n += t.n;
    all.sum += t.sum;
    all.ordered = all.ordered && t.ordered;
  };
  for (auto& t : co_consumers) add(t.join());
  for (auto& t : threads) t.join();
  for (auto& t : thread_tallies) add(t);
  EXPECT_EQ(all.n, per_producer * kProducers);
  EXPECT_EQ(all.sum, std::uint64_t(kProducers) * std::uint64_t(per_producer) *
                         std::uint64_t(per_producer - 1) / 2);
  EXPECT_TRUE(all.ordered) << "a consumer saw a producer's values out of order";
  EXPECT_EQ(ch.size(), 0u);
}

TEST(Channel, ManyToManyBuffered) {
  Watchdog dog("ManyToManyBuffered");
  many_to_many(64, scaled(1'000'000L, 40'000L));
}

TEST(Channel, ManyToManyRendezvous) {
  Watchdog dog("ManyToManyRendezvous");
  many_to_many(0, scaled(100'000L, 10'000L));
}

TEST(Channel, RendezvousSendWaitsForAReceiver) {
  Watchdog dog("RendezvousSendWaitsForAReceiver");
  weft::Scheduler sched({.workers = 2});
  weft::Channel<int> ch(0);
  EXPECT_FALSE(ch.try_send(1)) << "no receiver waiting";
  EXPECT_FALSE(ch.try_recv());
  std::atomic<bool> sent{false};
  auto sender = sched.spawn([&] {
    bool ok = ch.send(7);
    sent.store(true);
    return ok;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(sent.load()) << "a rendezvous send completed without a receiver";
  EXPECT_EQ(ch.size(), 0u);
  EXPECT_EQ(ch.recv(), 7);
  EXPECT_TRUE(sender.join());
  EXPECT_TRUE(sent.load());

  // try_recv takes from a blocked sender; try_send hands to a blocked receiver.
  auto sender2 = sched.spawn([&] { return ch.send(8); });
  ASSERT_TRUE(weft_test::spin_until([&] { return ch.try_recv() == std::optional<int>(8); }));
  EXPECT_TRUE(sender2.join());
  auto receiver = sched.spawn([&] { return ch.recv(); });
  ASSERT_TRUE(weft_test::spin_until([&] { return ch.try_send(9); }));
  EXPECT_EQ(receiver.join(), 9);
}

TEST(Channel, CloseFailsBlockedSendersAndDrainsReceivers) {
  Watchdog dog("CloseFailsBlockedSendersAndDrainsReceivers");
  weft::Scheduler sched({.workers = 2});
  weft::Channel<int> ch(2);
  ASSERT_TRUE(ch.send(1));
  ASSERT_TRUE(ch.send(2));
  // The buffer is full: these block, a coroutine and a thread.
  std::atomic<int> started{0};
  auto blocked = sched.spawn([&] {
    started.fetch_add(1);
    return ch.send(3);
  });
  bool thread_sent = true;
  std::thread th([&] {
    started.fetch_add(1);
    thread_sent = ch.send(4);
  });
  ASSERT_TRUE(weft_test::spin_until([&] { return started.load() == 2; }));
  std::this_thread::sleep_for(10ms);  // let them block
  ch.close();
  ch.close();  // idempotent
  EXPECT_TRUE(ch.closed());
  EXPECT_FALSE(blocked.join());
  th.join();
  EXPECT_FALSE(thread_sent);
  EXPECT_FALSE(ch.send(5));
  EXPECT_FALSE(ch.try_send(5));
  EXPECT_EQ(ch.recv(), 1);  // buffered elements survive the close
  EXPECT_EQ(ch.try_recv(), 2);
  EXPECT_EQ(ch.recv(), std::nullopt);
  EXPECT_EQ(ch.recv_for(1s), std::nullopt);

  // Receivers blocked on an empty channel get nullopt from close().
  weft::Channel<int> empty(4);
  std::vector<weft::Task<std::optional<int>>> receivers;
  for (int i = 0; i < 5; ++i) receivers.push_back(sched.spawn([&] { return empty.recv(); }));
  std::optional<int> thread_got = 0;
  std::thread th2([&] { thread_got = empty.recv(); });
  std::this_thread::sleep_for(10ms);
  empty.close();
  for (auto& r : receivers) EXPECT_EQ(r.join(), std::nullopt);
  th2.join();
  EXPECT_EQ(thread_got, std::nullopt);
}

TEST(Channel, TimeoutsFireAndDoNot) {
  Watchdog dog("ChannelTimeoutsFireAndDoNot");
  weft::Scheduler sched({.workers = 2});
  weft::Channel<std::string> ch(1);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(sched.run([&] { return ch.recv_for(20ms); }), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_EQ(ch.recv_for(5ms), std::nullopt);  // on a thread
  ASSERT_TRUE(ch.send("first"));
  std::string value = "kept on timeout";
  EXPECT_FALSE(sched.run([&] { return ch.send_for(value, 10ms); }));
  EXPECT_EQ(value, "kept on timeout");
  EXPECT_FALSE(ch.send_for(value, 5ms));
  EXPECT_EQ(value, "kept on timeout");
  EXPECT_FALSE(ch.closed());

  // Satisfied before the deadline.
  auto receiver = sched.spawn([&] {
    auto a = ch.recv_for(10s);
    auto b = ch.recv_for(10s);
    return a && b && *a == "first" && *b == "second";
  });
  EXPECT_TRUE(ch.send_for(std::string("second"), 10s));
  EXPECT_TRUE(receiver.join());
}

// Receivers with tiny timeouts race with senders: whatever a send delivered is received
// exactly once, whatever timed out is not.
TEST(Channel, TimeoutsRacingWithHandOffs) {
  Watchdog dog("TimeoutsRacingWithHandOffs");
  weft::Scheduler sched({.workers = 4});
  weft::Channel<long> ch(0);
  const long kValues = scaled(10000L, 2000L);
  std::atomic<long> received_sum{0}, received_n{0};
  std::atomic<bool> stop{false};
  std::vector<weft::Task<void>> receivers;
  for (int r = 0; r < 6; ++r) {
    receivers.push_back(sched.spawn([&, r] {
      while (!stop.load()) {
        if (auto v = ch.recv_for(std::chrono::microseconds(r * 7))) {
          received_sum += *v;
          ++received_n;
        }
      }
    }));
  }
  std::thread thread_receiver([&] {
    while (!stop.load()) {
      if (auto v = ch.recv_for(3us)) {
        received_sum += *v;
        ++received_n;
      }
    }
  });
  long sent_sum = 0, sent_n = 0;
  for (long i = 1; i <= kValues; ++i) {
    long v = i;
    if (ch.send_for(v, std::chrono::microseconds(i % 20))) {
      sent_sum += i;
      ++sent_n;
    }
  }
  stop.store(true);
  for (auto& r : receivers) r.join();
  thread_receiver.join();
  EXPECT_EQ(received_n.load(), sent_n);
  EXPECT_EQ(received_sum.load(), sent_sum);
  EXPECT_GT(sent_n, 0);
}

TEST(Channel, MoveOnlyElements) {
  Watchdog dog("MoveOnlyElements");
  weft::Scheduler sched({.workers = 2});
  weft::Channel<std::unique_ptr<int>> ch(0);
  auto sender = sched.spawn([&] {
    for (int i = 0; i < 100; ++i) ch.send(std::make_unique<int>(i));
    ch.close();
  });
  int expect = 0;
  while (auto p = ch.recv()) EXPECT_EQ(**p, expect++);
  EXPECT_EQ(expect, 100);
  sender.join();
}

struct Counted {
  static inline std::atomic<int> live{0};
  int v;
  explicit Counted(int x) : v(x) { ++live; }
  Counted(Counted&& o) noexcept : v(o.v) { ++live; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --live; }
};

TEST(Channel, DestroysBufferedElementsExactlyOnce) {
  {
    weft::Channel<Counted> ch(8);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(ch.send(Counted(i)));
    EXPECT_EQ(Counted::live.load(), 5);
    EXPECT_EQ(ch.recv()->v, 0);
    EXPECT_EQ(Counted::live.load(), 4);
    ch.close();
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(Channel, BlockedCoroutineLeavesItsWorkerFree) {
  Watchdog dog("ChannelBlockedCoroutineLeavesItsWorkerFree");
  weft::Scheduler sched({.workers = 1});
  EXPECT_EQ(sched.run([] {
    weft::Channel<int> ping(0), pong(0);
    // Two coroutines on one worker ping-pong through rendezvous channels: each blocks in
    // turn, and only progresses because the other still runs on the same worker.
    auto echo = weft::spawn([&] {
      while (auto v = ping.recv()) pong.send(*v + 1);
    });
    int v = 0;
    for (int i = 0; i < 1000; ++i) {
      ping.send(v);
      v = *pong.recv();
    }
    ping.close();
    echo.join();
    return v;
  }),
            1000);
}

TEST(Channel, ImpossibleCapacityThrowsAtConstruction) {
  // More elements than memory can hold: the allocation fails cleanly, with no overflow in
  // the size computation.
  EXPECT_THROW(weft::Channel<std::uint64_t> ch(SIZE_MAX / 4), std::bad_alloc);
  EXPECT_THROW(weft::Channel<std::uint64_t> ch(SIZE_MAX), std::bad_alloc);
}

}  // namespace
