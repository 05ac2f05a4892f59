// SPDX-License-Identifier: Apache-2.0
// spawn-tree: random trees of coroutines. Each node's shape (fan-out, how each child is
// spawned and joined) follows from its own seed, so a sequential walk of the same tree
// gives the expected node count, the sum of node hashes (each node adds its hash once:
// a node run twice or never shows) and the tree's value, which reaches the root through
// joins, through exceptions thrown through join, and through detached subtrees that
// report to a WaitGroup.
#include <algorithm>
#include <exception>
#include <vector>

#include "common.hpp"
#include "workloads.hpp"

namespace stress {
namespace {

struct Tree {
  std::atomic<std::uint64_t> nodes{0};
  std::atomic<std::uint64_t> hashes{0};
  std::atomic<std::uint64_t> detached_value{0};
  weft::WaitGroup detached;  // detached subtrees not yet finished
  weft::Scheduler* sched = nullptr;
};

struct Thrown : std::exception {
  explicit Thrown(std::uint64_t v) : value(v) {}
  const char* what() const noexcept override { return "spawn-tree child threw"; }
  std::uint64_t value;
};

enum class How { kJoin, kDetach, kThrow };

struct Node : SeededNode<Node, 0x1000, 0xabcdef> {
  std::uint64_t hash() const { return mix(seed ^ 0x5eed); }
  How how() const {
    const std::uint64_t p = mix(seed ^ 0x77) % 100;
    return p < 8 ? How::kDetach : p < 16 ? How::kThrow : How::kJoin;
  }
};

struct Expect {
  std::uint64_t nodes = 0;
  std::uint64_t hashes = 0;
  std::uint64_t value = 0;  // the whole tree's value
};

// The sequential walk; stops counting past `cap` nodes.
std::uint64_t walk(const Node& n, Expect& e, std::uint64_t cap) {
  ++e.nodes;
  e.hashes += n.hash();
  std::uint64_t v = n.own_value();
  const unsigned fan = n.fanout();
  for (unsigned i = 0; i < fan && e.nodes <= cap; ++i) v += walk(n.child(i), e, cap);
  return v;
}

std::uint64_t run_node(Tree* t, Node n);

weft::Task<std::uint64_t> spawn_child(Tree* t, const Node& c, bool via_scheduler) {
  auto body = [t, c]() -> std::uint64_t {
    const std::uint64_t v = run_node(t, c);
    if (c.how() == How::kThrow) throw Thrown(v);
    if (c.how() == How::kDetach) {
      t->detached_value.fetch_add(v, std::memory_order_relaxed);
      t->detached.done();
    }
    return v;
  };
  return via_scheduler ? go(*t->sched, body) : go(body);
}

std::uint64_t run_node(Tree* t, Node n) {
  t->nodes.fetch_add(1, std::memory_order_relaxed);
  t->hashes.fetch_add(n.hash(), std::memory_order_relaxed);
  Rng rng(n.seed);
  std::uint64_t v = n.own_value();
  const unsigned fan = n.fanout();
  std::vector<weft::Task<std::uint64_t>> kids;
  std::vector<How> hows;
  kids.reserve(fan);
  for (unsigned i = 0; i < fan; ++i) {
    const Node c = n.child(i);
    if (c.how() == How::kDetach) t->detached.add(1);
    kids.push_back(spawn_child(t, c, rng.chance(20)));
    hows.push_back(c.how());
    if (hows.back() == How::kDetach) kids.back().detach();
    if (rng.chance(5)) weft::yield();
  }
  // Join order: spawn order (inline joins), reverse (the newest first), or shuffled.
  std::vector<unsigned> order(fan);
  for (unsigned i = 0; i < fan; ++i) order[i] = i;
  switch (rng.below(3)) {
    case 0:
      break;
    case 1:
      std::reverse(order.begin(), order.end());
      break;
    default:
      for (unsigned i = fan; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  }
  if (fan > 0 && rng.chance(10)) {
    const unsigned j = order[rng.below(fan)];
    if (kids[j].valid()) weft::yield_to(kids[j]);
  }
  for (unsigned i : order) {
    if (hows[i] == How::kDetach) continue;
    if (hows[i] == How::kThrow) {
      try {
        kids[i].join();
        fail("a child that throws returned normally from join()");
      } catch (const Thrown& e) {
        v += e.value;
      }
    } else {
      v += kids[i].join();
    }
  }
  return v;
}

}  // namespace

void run_spawn_tree(Round& r) {
  Rng rng(r.seed);
  const std::uint64_t tree_cap = kTsan ? 400 : 3000;
  std::uint64_t done = 0;
  while (done < r.ops) {
    // A batch of trees run at once, their nodes (all of which may be live together) under
    // the live-coroutine cap.
    Tree t;
    t.sched = &r.sched;
    std::vector<Node> roots;
    Expect e;
    std::uint64_t expected_value = 0;
    const unsigned ntrees = static_cast<unsigned>(rng.range(1, 6));
    for (unsigned k = 0; k < ntrees && e.nodes + tree_cap <= kMaxLive; ++k) {
      Node root{{rng.next(), static_cast<unsigned>(rng.range(0, 9)),
                 static_cast<unsigned>(rng.range(1, 8))}};
      for (;;) {
        Expect probe;
        walk(root, probe, tree_cap);
        if (probe.nodes <= tree_cap) break;
        --root.depth_left;  // too big: make it shallower
      }
      expected_value += walk(root, e, UINT64_MAX);
      roots.push_back(root);
    }
    std::uint64_t got = 0;
    if (rng.chance(50)) {
      // Roots spawned and joined from this plain thread.
      phase("spawn-tree: joining roots from a plain thread");
      std::vector<weft::Task<std::uint64_t>> tasks;
      for (const Node& n : roots) tasks.push_back(go(r.sched, [&t, n] { return run_node(&t, n); }));
      for (std::size_t i = tasks.size(); i-- > 0;) got += tasks[i].join();
    } else {
      // Roots spawned and joined by a coroutine.
      phase("spawn-tree: joining roots from a coroutine");
      got = go(r.sched, [&t, &roots] {
              std::vector<weft::Task<std::uint64_t>> tasks;
              for (const Node& n : roots) tasks.push_back(go([&t, n] { return run_node(&t, n); }));
              std::uint64_t s = 0;
              for (auto& task : tasks) s += task.join();
              return s;
            }).join();
    }
    phase("spawn-tree: waiting for detached subtrees");
    STRESS_CHECK(t.detached.wait_for(kWaitLimit),
                 "detached subtrees still running after %lld s (WaitGroup count %" PRId64 ")",
                 static_cast<long long>(kWaitLimit.count()), t.detached.count());
    const std::uint64_t nodes = t.nodes.load();
    STRESS_CHECK(nodes == e.nodes, "%zu trees: %" PRIu64 " nodes ran, expected %" PRIu64,
                 roots.size(), nodes, e.nodes);
    STRESS_CHECK(t.hashes.load() == e.hashes,
                 "node hash sum mismatch (%" PRIu64
                 " nodes ran as expected in count, but some "
                 "node ran twice and another never)",
                 nodes);
    STRESS_CHECK(got + t.detached_value.load() == expected_value,
                 "tree value: %" PRIu64 " through joins + %" PRIu64
                 " from detached subtrees != expected %" PRIu64,
                 got, t.detached_value.load(), expected_value);
    add_ops(nodes);
    done += nodes;
  }
}

}  // namespace stress
