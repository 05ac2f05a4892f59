// SPDX-License-Identifier: Apache-2.0
// The internal Chase-Lev deque (src/deque.hpp): LIFO for the owner, FIFO for thieves,
// growth from a tiny capacity, and every item taken exactly once while an owner pushes
// and pops and several thieves steal, across many resizes.
#include "deque.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace {

using weft::detail::ChaseLevDeque;

struct Item {
  std::uint32_t id = 0;
  std::atomic<int> taken{0};
};

TEST(ChaseLevDeque, EmptyDeque) {
  ChaseLevDeque<Item> d(4);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.pop(), nullptr);
  EXPECT_EQ(d.steal(), nullptr);
  EXPECT_TRUE(d.empty());
  Item a;
  d.push(&a);
  EXPECT_FALSE(d.empty());
  EXPECT_EQ(d.pop(), &a);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.pop(), nullptr);
  d.push(&a);
  EXPECT_EQ(d.steal(), &a);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.steal(), nullptr);
  EXPECT_EQ(d.pop(), nullptr);
}

TEST(ChaseLevDeque, PeekNewestShowsTheNextPopWithoutTakingIt) {
  ChaseLevDeque<Item> d(2);
  std::int64_t at = -7;
  EXPECT_EQ(d.peek_newest(at), nullptr);
  EXPECT_EQ(at, -7);
  Item a, b, c;
  d.push(&a);
  d.push(&b);
  d.push(&c);  // grows
  EXPECT_EQ(d.peek_newest(at), &c);
  EXPECT_EQ(at, 2);
  EXPECT_EQ(d.peek_newest(at), &c);  // still there
  EXPECT_EQ(d.steal(), &a);          // the other end does not move it
  EXPECT_EQ(d.peek_newest(at), &c);
  EXPECT_EQ(d.pop(), &c);
  EXPECT_EQ(d.peek_newest(at), &b);
  EXPECT_EQ(at, 1);
  EXPECT_EQ(d.steal(), &b);  // the last one, taken from the thieves' end
  EXPECT_EQ(d.peek_newest(at), nullptr);
}

TEST(ChaseLevDeque, OwnerPopsLifoThiefStealsFifoAcrossGrowth) {
  constexpr std::uint32_t kN = 1000;  // from capacity 2: nine doublings
  std::vector<Item> items(kN);
  for (std::uint32_t i = 0; i < kN; ++i) items[i].id = i;

  ChaseLevDeque<Item> d(2);
  for (auto& it : items) d.push(&it);
  for (std::uint32_t i = kN; i-- > 0;) {
    Item* p = d.pop();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->id, i);
  }
  EXPECT_EQ(d.pop(), nullptr);

  for (auto& it : items) d.push(&it);
  for (std::uint32_t i = 0; i < kN; ++i) {
    Item* p = d.steal();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->id, i);
  }
  EXPECT_EQ(d.steal(), nullptr);
  EXPECT_TRUE(d.empty());
}

TEST(ChaseLevDeque, MixedEndsSingleThread) {
  std::vector<Item> items(64);
  for (std::uint32_t i = 0; i < items.size(); ++i) items[i].id = i;
  ChaseLevDeque<Item> d(2);
  // Wrap around the ring many times with a small live window, then grow mid-way.
  std::uint32_t next = 0;
  std::vector<std::uint32_t> live;  // model: ids in deque order (front = steal end)
  for (int round = 0; round < 2000; ++round) {
    const int op = (round * 7 + round / 13) % 5;
    if (op < 3) {
      Item& it = items[next++ % items.size()];
      d.push(&it);
      live.push_back(it.id);
    } else if (op == 3) {
      Item* p = d.pop();
      if (live.empty()) {
        EXPECT_EQ(p, nullptr);
      } else {
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(p->id, live.back());
        live.pop_back();
      }
    } else {
      Item* p = d.steal();
      if (live.empty()) {
        EXPECT_EQ(p, nullptr);
      } else {
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(p->id, live.front());
        live.erase(live.begin());
      }
    }
    if (live.size() > 40) {  // keep ids unique in the live window
      while (!live.empty()) {
        ASSERT_NE(d.steal(), nullptr);
        live.erase(live.begin());
      }
    }
  }
  EXPECT_EQ(d.empty(), live.empty());
}

// One owner pushing in bursts (growing the ring repeatedly from capacity 2) and popping,
// `thieves` threads stealing. Every item must be taken exactly once, and each thief must
// see item ids in increasing order (it takes from the FIFO end).
void concurrent_run(int thieves, std::uint32_t total, std::size_t initial_capacity) {
  weft_test::Watchdog dog("ChaseLevDeque concurrent run", std::chrono::seconds(120));
  std::unique_ptr<Item[]> items(new Item[total]);
  for (std::uint32_t i = 0; i < total; ++i) items[i].id = i;

  ChaseLevDeque<Item> d(initial_capacity);
  std::atomic<bool> owner_done{false};
  std::atomic<int> ready{0};
  std::atomic<bool> any_stolen{false};
  std::vector<std::uint64_t> stolen(static_cast<std::size_t>(thieves), 0);
  std::vector<int> order_violations(static_cast<std::size_t>(thieves), 0);

  std::vector<std::thread> ts;
  for (int k = 0; k < thieves; ++k)
    ts.emplace_back([&, k] {
      ready.fetch_add(1);
      std::int64_t last = -1;
      std::uint64_t n = 0;
      int bad = 0;
      for (;;) {
        const bool finished = owner_done.load(std::memory_order_acquire);
        Item* p = d.steal();
        if (p) {
          p->taken.fetch_add(1, std::memory_order_relaxed);
          any_stolen.store(true, std::memory_order_relaxed);
          if (static_cast<std::int64_t>(p->id) <= last) ++bad;
          last = p->id;
          ++n;
        } else if (finished) {
          break;
        }
      }
      stolen[static_cast<std::size_t>(k)] = n;
      order_violations[static_cast<std::size_t>(k)] = bad;
    });
  while (ready.load() < thieves) std::this_thread::yield();

  std::uint64_t popped = 0;
  std::uint32_t next = 0;
  // Make sure the thieves are really running before the stress starts.
  for (; next < 16; ++next) d.push(&items[next]);
  EXPECT_TRUE(weft_test::spin_until([&] { return any_stolen.load(); }));
  std::uint32_t burst = 1;
  while (next < total) {
    // Bursts that grow then shrink, so the deque both grows and wraps.
    for (std::uint32_t i = 0; i < burst && next < total; ++i) d.push(&items[next++]);
    const std::uint32_t pops = burst / 2;
    for (std::uint32_t i = 0; i < pops; ++i) {
      if (Item* p = d.pop()) {
        p->taken.fetch_add(1, std::memory_order_relaxed);
        ++popped;
      }
    }
    burst = burst >= 4096 ? 1 : burst * 2 + 1;
  }
  while (Item* p = d.pop()) {
    p->taken.fetch_add(1, std::memory_order_relaxed);
    ++popped;
  }
  owner_done.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();

  std::uint64_t sum = popped;
  for (auto s : stolen) sum += s;
  ::testing::Test::RecordProperty("popped", static_cast<int>(popped));
  ::testing::Test::RecordProperty("stolen", static_cast<int>(sum - popped));
  EXPECT_EQ(sum, total);
  std::uint32_t bad_items = 0;
  for (std::uint32_t i = 0; i < total; ++i) {
    if (items[i].taken.load() != 1) {
      if (bad_items < 10)
        ADD_FAILURE() << "item " << i << " taken " << items[i].taken.load() << " times";
      ++bad_items;
    }
  }
  EXPECT_EQ(bad_items, 0u);
  for (int k = 0; k < thieves; ++k)
    EXPECT_EQ(order_violations[static_cast<std::size_t>(k)], 0)
        << "thief " << k << " stole out of FIFO order";
  EXPECT_TRUE(d.empty());
}

constexpr std::uint32_t kItems = weft_test::scaled<std::uint32_t>(200'000, 100'000, 100'000);

TEST(ChaseLevDeque, OneOwnerTwoThievesEveryItemOnce) {
  concurrent_run(2, kItems, 2);
}

TEST(ChaseLevDeque, OneOwnerThreeThievesEveryItemOnce) {
  concurrent_run(3, kItems, 4);
}

TEST(ChaseLevDeque, OneOwnerOneThiefDefaultCapacity) {
  concurrent_run(1, kItems, 64);
}

// The race the owner and a thief run for the last item: one deque holding one item at a
// time, owner popping and thief stealing; never both, never neither.
TEST(ChaseLevDeque, LastItemRace) {
  constexpr std::uint32_t kRounds = weft_test::scaled<std::uint32_t>(100'000, 10'000, 50'000);
  std::unique_ptr<Item[]> items(new Item[kRounds]);
  ChaseLevDeque<Item> d(2);
  std::atomic<std::uint32_t> published{0};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> thief_got{0};
  std::thread thief([&] {
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_acquire)) {
      if (Item* p = d.steal()) {
        p->taken.fetch_add(1, std::memory_order_relaxed);
        ++n;
      }
    }
    while (Item* p = d.steal()) {
      p->taken.fetch_add(1, std::memory_order_relaxed);
      ++n;
    }
    thief_got.store(n);
  });
  std::uint64_t owner_got = 0;
  for (std::uint32_t i = 0; i < kRounds; ++i) {
    d.push(&items[i]);
    published.store(i + 1, std::memory_order_relaxed);
    if (i % 3 == 0) weft_test::burn(20);  // give the thief a chance to be mid-steal
    if (Item* p = d.pop()) {
      p->taken.fetch_add(1, std::memory_order_relaxed);
      ++owner_got;
    }
  }
  stop.store(true, std::memory_order_release);
  thief.join();
  EXPECT_EQ(owner_got + thief_got.load(), kRounds);
  std::uint32_t bad = 0;
  for (std::uint32_t i = 0; i < kRounds; ++i) bad += items[i].taken.load() != 1;
  EXPECT_EQ(bad, 0u);
  EXPECT_TRUE(d.empty());
}

// push publishes what was written to an item before it: a thief that steals the item sees
// those plain writes (the release store of bottom, read by the thief's acquire load).
// Without that edge, TSan reports the race here, and weak hardware (AArch64) may let the
// thief read the old value; on x86-64 the store order hides it.
TEST(ChaseLevDeque, PushPublishesTheItemsContents) {
  constexpr std::uint32_t kRounds = weft_test::scaled<std::uint32_t>(50'000, 10'000, 20'000);
  struct Message {
    std::uint64_t payload = 0;  // plain: written by the owner just before each push
  };
  std::unique_ptr<Message[]> messages(new Message[kRounds]);
  ChaseLevDeque<Message> d(2);
  std::atomic<bool> stop{false};
  std::atomic<std::uint32_t> stale{0};
  std::thread thief([&] {
    auto take = [&](Message* m) {
      const auto index = static_cast<std::uint64_t>(m - messages.get());
      if (m->payload != index * 3 + 1) stale.fetch_add(1, std::memory_order_relaxed);
    };
    while (!stop.load(std::memory_order_acquire)) {
      if (Message* m = d.steal()) take(m);
    }
    while (Message* m = d.steal()) take(m);
  });
  for (std::uint32_t i = 0; i < kRounds; ++i) {
    messages[i].payload = std::uint64_t{i} * 3 + 1;
    d.push(&messages[i]);
    if (i % 4 == 3) {
      while (d.pop()) {
      }
    }
  }
  stop.store(true, std::memory_order_release);
  thief.join();
  EXPECT_EQ(stale.load(), 0u);
}

}  // namespace
