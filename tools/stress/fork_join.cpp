// SPDX-License-Identifier: Apache-2.0
// fork-join: random TaskGroup trees. Each node's shape follows from its seed: fan-out,
// which children throw, whether the node cancels its group after spawning, and what the
// children do before they return (nothing, yield, sleep, lock a shared Mutex, run a
// small parallel_for or parallel_reduce). Nodes spawn into their own group, sometimes
// into an ancestor's-style nested group, and wait in a random way (wait(), or let the
// destructor wait). A sequential walk numbers the nodes and says which subtrees are
// *clean* (no exception, no cancellation anywhere below): every node runs at most once,
// every node of a clean subtree runs exactly once, and a clean subtree's value (the sum of
// its nodes' values) reaches its root exactly. Steals happen on their own (2+ workers);
// sleeps and locks make owners suspend with children nobody took yet (stranded deques).
#include <atomic>
#include <deque>
#include <exception>
#include <memory>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

struct Thrown : std::exception {
  const char* what() const noexcept override { return "fork-join child threw"; }
};

enum class Act { kNothing, kYield, kSleep, kLock, kFor, kReduce };

struct FjNode : SeededNode<FjNode, 0x2000, 0x1234> {
  bool throws() const { return mix(seed ^ 0x99) % 100 < 4; }   // after its own subtree
  bool cancels() const { return mix(seed ^ 0x55) % 100 < 3; }  // its group, mid-spawn
  bool destructor_waits() const { return mix(seed ^ 0x33) % 4 == 0; }
  Act act() const {
    const std::uint64_t p = mix(seed ^ 0x77) % 100;
    return p < 60   ? Act::kNothing
           : p < 72 ? Act::kYield
           : p < 80 ? Act::kSleep
           : p < 88 ? Act::kLock
           : p < 94 ? Act::kFor
                    : Act::kReduce;
  }
};

// Pre-order numbering; returns whether the subtree is clean and its value.
struct Walked {
  bool clean;
  std::uint64_t value;
};
Walked walk(const FjNode& n, std::uint64_t& count, std::uint64_t cap) {
  ++count;
  Walked w{true, n.own_value()};
  const unsigned fan = n.fanout();
  for (unsigned i = 0; i < fan && count <= cap; ++i) {
    const FjNode c = n.child(i);
    const Walked cw = walk(c, count, cap);
    w.clean = w.clean && cw.clean && !c.throws();
    w.value += cw.value;
  }
  if (fan > 0 && n.cancels()) w.clean = false;
  return w;
}

struct Forest {
  std::vector<std::atomic<std::uint8_t>> runs;
  weft::Mutex mu;
  std::uint64_t locked_sum = 0;  // guarded by mu
  explicit Forest(std::size_t n) : runs(n) {}
};

struct Spawned {
  Forest* forest;
  FjNode node;
  std::uint64_t id;
  std::uint64_t* value;
};

// Runs node `n` numbered `id`; returns its subtree's value, or throws Thrown after its
// subtree if it is a thrower.
std::uint64_t run_fj(Forest& f, const FjNode& n, std::uint64_t id) {
  f.runs[id].fetch_add(1, std::memory_order_relaxed);
  std::uint64_t v = n.own_value();
  switch (n.act()) {
    case Act::kYield:
      weft::yield();
      break;
    case Act::kSleep:
      weft::sleep_for(std::chrono::microseconds(mix(n.seed) % 200));
      break;
    case Act::kLock: {
      std::lock_guard lock(f.mu);
      f.locked_sum += 1;
      break;
    }
    case Act::kFor: {
      std::atomic<std::uint64_t> s{0};
      weft::parallel_for(0, 500, [&s](int i) { s.fetch_add(static_cast<std::uint64_t>(i)); });
      STRESS_CHECK(s.load() == 500 * 499 / 2, "parallel_for inside a child summed %" PRIu64,
                   s.load());
      break;
    }
    case Act::kReduce: {
      const std::uint64_t s = weft::parallel_reduce(
          0, 700, std::uint64_t{0},
          [](int lo, int hi, std::uint64_t acc) {
            for (int i = lo; i < hi; ++i) acc += static_cast<std::uint64_t>(i);
            return acc;
          },
          [](std::uint64_t a, std::uint64_t b) { return a + b; });
      STRESS_CHECK(s == 700 * 699 / 2, "parallel_reduce inside a child returned %" PRIu64, s);
      break;
    }
    case Act::kNothing:
      break;
  }
  const unsigned fan = n.fanout();
  std::vector<std::uint64_t> values(fan, 0);
  std::uint64_t next = id + 1;
  bool group_clean = true;
  std::deque<Spawned> spawned;  // stable addresses for the small captures
  {
    weft::TaskGroup g;
    for (unsigned i = 0; i < fan; ++i) {
      const FjNode c = n.child(i);
      std::uint64_t count = 0;
      const Walked cw = walk(c, count, UINT64_MAX);
      group_clean = group_clean && cw.clean && !c.throws();
      const std::uint64_t cid = next;
      next += count;
      // Both kinds of slot: a capture that fits in the slot (it must survive the
      // grandchildren that reuse the slot) and an oversized one (boxed).
      if (mix(c.seed ^ 0x3) % 2 == 0) {
        const Spawned* sp = &spawned.emplace_back(Spawned{&f, c, cid, &values[i]});
        g.spawn([sp] {
          *sp->value = run_fj(*sp->forest, sp->node, sp->id);
          if (sp->node.throws()) throw Thrown();
        });
      } else {
        g.spawn([&f, c, cid, &values, i] {
          values[i] = run_fj(f, c, cid);
          if (c.throws()) throw Thrown();
        });
      }
      if (i == fan / 2 && n.cancels()) g.cancel();
    }
    if (!n.destructor_waits()) {
      bool threw = false;
      try {
        g.wait();
      } catch (const Thrown&) {
        threw = true;
      }
      if (group_clean && !n.cancels()) {
        STRESS_CHECK(!threw, "a TaskGroup with no throwing child threw from wait()");
      }
    } else if (!group_clean) {
      // Its destructor would report the exception as unhandled: wait here instead.
      try {
        g.wait();
      } catch (const Thrown&) {
      }
    }
  }
  // A throwing sibling cancels the group too: only a clean group's children must all run.
  for (unsigned i = 0; i < fan; ++i) {
    if (group_clean && !n.cancels()) {
      std::uint64_t count = 0;
      const Walked cw = walk(n.child(i), count, UINT64_MAX);
      STRESS_CHECK(values[i] == cw.value, "a clean subtree returned %" PRIu64 ", expected %" PRIu64,
                   values[i], cw.value);
    }
    v += values[i];
  }
  return v;
}

// Checks every node ran at most once, and every node of a clean subtree exactly once.
void check_runs(Forest& f, const FjNode& n, std::uint64_t& id, bool must_run) {
  const std::uint64_t me = id++;
  const unsigned r = f.runs[me].load();
  STRESS_CHECK(r <= 1, "TaskGroup node %" PRIu64 " ran %u times", me, r);
  if (must_run) STRESS_CHECK(r == 1, "TaskGroup node %" PRIu64 " of a clean subtree never ran", me);
  const unsigned fan = n.fanout();
  bool group_clean = !n.cancels();
  for (unsigned i = 0; i < fan; ++i) {
    const FjNode c = n.child(i);
    std::uint64_t count = 0;
    group_clean = group_clean && walk(c, count, UINT64_MAX).clean && !c.throws();
  }
  for (unsigned i = 0; i < fan; ++i) check_runs(f, n.child(i), id, must_run && group_clean);
}

}  // namespace

void run_fork_join(Round& r) {
  Rng rng(r.seed);
  const std::uint64_t cap = kTsan ? 300 : 3000;
  std::uint64_t done = 0;
  while (done < r.ops) {
    FjNode root{{rng.next(), static_cast<unsigned>(rng.range(1, 8)),
                 static_cast<unsigned>(rng.range(1, 6))}};
    std::uint64_t count = 0;
    for (;;) {
      count = 0;
      walk(root, count, cap);
      if (count <= cap) break;
      --root.depth_left;
    }
    const Walked expect = walk(root, count = 0, UINT64_MAX);
    Forest f(count);
    std::uint64_t got = 0;
    bool threw = false;
    phase("fork-join: running a TaskGroup tree");
    auto body = [&] {
      try {
        got = run_fj(f, root, 0);
      } catch (const Thrown&) {
        threw = true;
      }
      if (root.throws()) threw = true;
    };
    if (rng.chance(25)) {
      // The root group on this plain thread: its children are ordinary coroutines.
      weft::TaskGroup g;
      g.spawn(body);
      g.wait();
    } else {
      go(r.sched, body).join();
    }
    phase("fork-join: checking the tree");
    if (expect.clean && !root.throws()) {
      STRESS_CHECK(!threw, "a clean fork-join tree threw");
      STRESS_CHECK(got == expect.value, "fork-join tree value %" PRIu64 " != expected %" PRIu64,
                   got, expect.value);
    }
    std::uint64_t id = 0;
    check_runs(f, root, id, true);
    add_ops(count);
    done += count;
  }
}

}  // namespace stress
