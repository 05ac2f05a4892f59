// SPDX-License-Identifier: Apache-2.0
// The split deque alone (weft/detail/fork_deque.hpp), outside any scheduler: an owner
// thread pushes and syncs while thief threads steal; every slot runs exactly once, by
// the owner or by exactly one thief, whatever the interleaving.
#include "weft/detail/fork_deque.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace {

using weft::detail::ForkDeque;
using weft::detail::ForkSlot;
using weft::detail::kJoinDone;

struct Item {
  int id;
};

void put(ForkSlot* s, int id) {
  ::new (static_cast<void*>(s->storage)) Item{id};
}
int id_of(ForkSlot* s) {
  return std::launder(reinterpret_cast<Item*>(s->storage))->id;
}

TEST(ForkDeque, OwnerAloneGetsItsSlotsBackNewestFirst) {
  auto d = std::make_unique<ForkDeque>();
  for (int i = 0; i < 100; ++i) {
    put(d->push_slot(), i);
    d->commit_push();
  }
  for (int i = 99; i >= 0; --i) {
    ForkSlot* s = d->pop_private();
    if (!s) {  // the first child was shared at once; nobody took it
      s = d->newest();
      ASSERT_TRUE(d->take_back());
    }
    EXPECT_EQ(id_of(s), i);
  }
  EXPECT_TRUE(d->empty());
  EXPECT_TRUE(d->all_taken());
}

// One word (limit_) makes a push share: a thief zeroes it when it found nothing, the
// owner when it found every shared slot taken. Each case, in one thread.
TEST(ForkDeque, APushSharesAfterEverythingWasStolenOrAThiefAsked) {
  auto d = std::make_unique<ForkDeque>();
  auto push = [&d](int id) {
    put(d->push_slot(), id);
    d->commit_push();
  };
  auto steal_id = [&d] {
    ForkSlot* s = d->steal();
    return s ? id_of(s) : -1;
  };
  push(1);  // a new deque shares its first child at once
  EXPECT_EQ(steal_id(), 1);
  EXPECT_FALSE(d->take_back()) << "the owner finds its only child stolen";
  d->pop_stolen();
  push(2);  // everything was stolen: shared at once again
  EXPECT_EQ(steal_id(), 2);
  EXPECT_FALSE(d->take_back());
  d->pop_stolen();
  push(3);
  push(4);  // 3 is shared and waiting: 4 stays private
  EXPECT_EQ(steal_id(), 3);
  EXPECT_EQ(steal_id(), -1) << "4 is private; the thief asks for more";
  push(5);  // the request: half of the private slots (4) is shared
  EXPECT_EQ(steal_id(), 4);
  EXPECT_EQ(steal_id(), -1);
  ForkSlot* s = d->pop_private();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(id_of(s), 5);
}

// A stolen child that forks needs a deque of its own, often a new one: making it must not
// write all 64 KiB of slots (each first touch of a page is a fault, 15 us on a VM), only
// the header and the slots pushes reach.
TEST(ForkDeque, ANewDequeTouchesOnlyThePagesItsPushesReach) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t bytes = (sizeof(ForkDeque) + page - 1) / page * page;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  madvise(mem, bytes, MADV_NOHUGEPAGE);  // one fault must not map a whole huge page
  auto* d = ::new (mem) ForkDeque;
  for (int i = 0; i < 10; ++i) {
    put(d->push_slot(), i);
    ASSERT_FALSE(d->commit_push());
  }
  std::vector<unsigned char> resident(bytes / page);
  ASSERT_EQ(mincore(mem, bytes, resident.data()), 0);
  std::size_t touched = 0;
  for (unsigned char r : resident) touched += r & 1;
  EXPECT_LE(touched, 2u) << "of " << resident.size() << " pages, after 10 pushes";
  d->~ForkDeque();
  munmap(mem, bytes);
}

// The push that fills the last slot says so (its caller then syncs the newest child, so
// the next push has a slot), whether or not the limit also carried a thief's request.
TEST(ForkDeque, ThePushThatFillsTheLastSlotSaysSo) {
  for (const bool asked : {false, true}) {
    auto d = std::make_unique<ForkDeque>();
    for (std::uint32_t i = 0; i + 1 < ForkDeque::kCapacity; ++i) {
      put(d->push_slot(), static_cast<int>(i));
      ASSERT_FALSE(d->commit_push()) << "push " << i;
    }
    if (asked) {
      ForkSlot* first = d->steal();  // a new deque shared its first child at once
      ASSERT_NE(first, nullptr);
      EXPECT_EQ(id_of(first), 0);
      EXPECT_EQ(d->steal(), nullptr) << "nothing more is shared: the thief asks";
    }
    put(d->push_slot(), static_cast<int>(ForkDeque::kCapacity - 1));
    EXPECT_TRUE(d->commit_push()) << (asked ? "asked" : "not asked");
    ForkSlot* s = d->pop_private();
    ASSERT_NE(s, nullptr) << "the newest child is private";
    EXPECT_EQ(id_of(s), static_cast<int>(ForkDeque::kCapacity - 1));
    put(d->push_slot(), 0);
    EXPECT_TRUE(d->commit_push()) << "full again";
  }
}

// The thieves must take part: on a loaded machine they may not run at all during the
// planned rounds (seen under a parallel ctest), so the owner waits until both are
// running and adds rounds until one stole something (bounded by a deadline).
TEST(ForkDeque, EverySlotRunsOnceUnderConcurrentThieves) {
  const int rounds = weft_test::scaled(300, 60);
  constexpr int kPerRound = 200;
  auto d = std::make_unique<ForkDeque>();
  std::vector<std::atomic<int>> runs(kPerRound);  // this round's
  std::atomic<bool> stop{false};
  std::atomic<int> thieves_running{0};
  std::atomic<long> stolen{0};
  auto thief = [&] {
    thieves_running.fetch_add(1, std::memory_order_relaxed);
    while (!stop.load(std::memory_order_acquire)) {
      if (ForkSlot* s = d->steal()) {
        EXPECT_EQ(s->done().load(std::memory_order_relaxed), 0u)
            << "a shared slot's done word is 0";
        runs[id_of(s)].fetch_add(1, std::memory_order_relaxed);
        stolen.fetch_add(1, std::memory_order_relaxed);
        s->done().exchange(kJoinDone, std::memory_order_acq_rel);  // no waiter: the owner spins
      } else {
        std::this_thread::yield();
      }
    }
  };
  std::thread t1(thief), t2(thief);
  while (thieves_running.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int r = 0; r < rounds || (stolen.load(std::memory_order_relaxed) == 0 &&
                                 std::chrono::steady_clock::now() < deadline);
       ++r) {
    for (int i = 0; i < kPerRound; ++i) {
      put(d->push_slot(), i);
      d->commit_push();
      if (i % 16 == 0) std::this_thread::yield();  // let thieves ask and take
    }
    while (!d->empty()) {
      ForkSlot* s = d->pop_private();
      if (!s) {
        s = d->newest();
        if (!d->take_back()) {
          while (s->done().load(std::memory_order_acquire) != kJoinDone) std::this_thread::yield();
          d->pop_stolen();
          continue;
        }
      }
      runs[id_of(s)].fetch_add(1, std::memory_order_relaxed);
    }
    // Every slot was synced, so each thief's count is in (the done word's acquire).
    for (int i = 0; i < kPerRound; ++i) {
      EXPECT_EQ(runs[i].exchange(0, std::memory_order_relaxed), 1)
          << "round " << r << ", slot " << i;
    }
  }
  stop.store(true, std::memory_order_release);
  t1.join();
  t2.join();
  EXPECT_GT(stolen.load(), 0);  // thieves did take part
}

}  // namespace
