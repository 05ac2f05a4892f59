// SPDX-License-Identifier: Apache-2.0
// weft::check: the deterministic scheduler (CheckRun) and explore(). See check_run.hpp and
// docs/DESIGN.md, "weft::check: what is and is not deterministic".
#include "weft/check.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "check_run.hpp"
#include "core.hpp"
#include "sanitizers.hpp"
#include "stack.hpp"
#include "timer.hpp"
#include "weft/detail/runtime.hpp"
#include "weft/detail/wait_queue.hpp"
#include "weft/task.hpp"
#include "weft/unhandled.hpp"
#include "worker.hpp"

#if WEFT_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace weft::detail {

std::atomic<int> g_check_active{0};

namespace {

// The exploration whose worker is this thread (set by that worker, never changed after).
thread_local CheckRun* tls_run = nullptr;

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

struct OpInfo {
  const char* call;
  const char* kind;
  bool may_block;
};

OpInfo info_of(CheckOp op) noexcept {
  switch (op) {
    case CheckOp::kMutexLock:
      return {"Mutex::lock", "weft::Mutex", true};
    case CheckOp::kMutexTryLock:
      return {"Mutex::try_lock", "weft::Mutex", false};
    case CheckOp::kMutexUnlock:
      return {"Mutex::unlock", "weft::Mutex", false};
    case CheckOp::kCondVarWait:
      return {"CondVar::wait", "weft::CondVar", true};
    case CheckOp::kCondVarNotifyOne:
      return {"CondVar::notify_one", "weft::CondVar", false};
    case CheckOp::kCondVarNotifyAll:
      return {"CondVar::notify_all", "weft::CondVar", false};
    case CheckOp::kEventWait:
      return {"Event::wait", "weft::Event", true};
    case CheckOp::kEventSet:
      return {"Event::set", "weft::Event", false};
    case CheckOp::kEventReset:
      return {"Event::reset", "weft::Event", false};
    case CheckOp::kWaitGroupAdd:
      return {"WaitGroup::add", "weft::WaitGroup", false};
    case CheckOp::kWaitGroupWait:
      return {"WaitGroup::wait", "weft::WaitGroup", true};
    case CheckOp::kChannelSend:
      return {"Channel::send", "weft::Channel", true};
    case CheckOp::kChannelRecv:
      return {"Channel::recv", "weft::Channel", true};
    case CheckOp::kChannelTrySend:
      return {"Channel::try_send", "weft::Channel", false};
    case CheckOp::kChannelTryRecv:
      return {"Channel::try_recv", "weft::Channel", false};
    case CheckOp::kChannelClose:
      return {"Channel::close", "weft::Channel", false};
    case CheckOp::kJoin:
      return {"Task::join", "coroutine", true};
    case CheckOp::kSleep:
      return {"sleep", "timer", true};
    case CheckOp::kSpawn:
      return {"spawn", "coroutine", false};
  }
  return {"?", "?", false};
}

std::string where_of(Where l) {
  if (l.line() == 0) return "an unknown place";
  std::string s = std::string(l.file_name()) + ":" + std::to_string(l.line());
  if (*l.function_name()) s += std::string(" (in ") + l.function_name() + ")";
  return s;
}

std::string demangle(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> s(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status),
                                           std::free);
  return status == 0 && s ? s.get() : t.name();
}

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return demangle(typeid(ex)) + ": " + ex.what();
  } catch (...) {
    return "a non-std exception";
  }
}

}  // namespace

CheckRun* CheckRun::of_this_thread() noexcept {
  return tls_run;
}

// ---- the explorer's side ----

void CheckRun::begin(const Params& p) {
  std::lock_guard lock(mu_);
  params_ = p;
  rng_ = splitmix64(p.seed) ^ splitmix64(p.iteration + 0x5851F42D4C957F2DULL);
  next_seq_ = 1;
  now_ns_ = kEpochNs;
  steps_ = 0;
  lowest_ = 0;
  forced_ = nullptr;
  out_ = Outcome{};
  out_.hash = 0xCBF29CE484222325ULL;  // FNV-1a offset basis
  change_points_.clear();
  next_change_ = 0;
  touched_.clear();
  seen_.clear();
  schedule_.clear();
  if (p.policy == check::Policy::kPct) {
    for (unsigned i = 1; i < p.depth; ++i)
      change_points_.push_back(1 + next_random() % p.pct_steps);
    std::sort(change_points_.begin(), change_points_.end());
  }
  phase_ = Phase::kRunning;
  cv_.notify_all();
}

CheckRun::Outcome CheckRun::wait_end() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return phase_ == Phase::kEnded; });
  phase_ = Phase::kIdle;
  Outcome o = std::move(out_);
  if (external_failures_ != 0) {
    if (o.kind.empty()) o.kind = "uncontrolled";
    o.details += external_text_;
    external_failures_ = 0;
    external_text_.clear();
  }
  return o;
}

void CheckRun::stop() {
  std::lock_guard lock(mu_);
  phase_ = Phase::kStop;
  cv_.notify_all();
}

void CheckRun::touched_from_outside(const void* object, const std::string& what) {
  {
    std::lock_guard lock(mu_);
    if (phase_ != Phase::kRunning ||
        std::find(touched_.begin(), touched_.end(), object) == touched_.end()) {
      return;
    }
  }
  external(what);
}

void CheckRun::external(const std::string& what) {
  std::lock_guard lock(mu_);
  if (phase_ != Phase::kRunning) return;  // the explorer submitting the root
  ++external_failures_;
  external_text_ += "  outside the model: " + what +
                    " from a thread that is not the exploration's (a plain thread or another "
                    "scheduler's coroutine): its timing is not under the scheduler's control\n";
}

// ---- the worker's side ----

void CheckRun::fail(const char* kind, const std::string& text) {
  if (out_.kind.empty()) out_.kind = kind;
  out_.details += "  " + text + "\n";
}

std::uint64_t CheckRun::next_random() noexcept {
  rng_ = splitmix64(rng_);
  return rng_;
}

CheckRun::Co* CheckRun::find_co(std::uint64_t id) noexcept {
  auto it = std::lower_bound(cos_.begin(), cos_.end(), id,
                             [](const Co& co, std::uint64_t v) { return co.id < v; });
  return it != cos_.end() && it->id == id ? &*it : nullptr;
}

void CheckRun::record(std::size_t n, std::size_t chosen) noexcept {
  if (n < 2) return;  // no choice: not a decision
  schedule_.push_back(static_cast<std::uint32_t>(chosen));
  for (std::uint64_t v : {std::uint64_t{n}, std::uint64_t{chosen}}) {
    out_.hash = (out_.hash ^ v) * 0x100000001B3ULL;  // FNV-1a prime
  }
}

std::size_t CheckRun::choose(std::size_t n, const Coroutine* running) {
  std::size_t i = 0;
  switch (params_.policy) {
    case check::Policy::kRandom:
      i = n < 2 ? 0 : static_cast<std::size_t>(next_random() % n);
      break;
    case check::Policy::kPct: {
      std::int64_t best = INT64_MIN;
      for (std::size_t k = 0; k < n; ++k) {
        const Coroutine* c = k < ready_.size() ? ready_[k] : running;
        const Co* co = find_co(c->id);
        const std::int64_t p = co ? co->priority : 0;
        if (p > best) {
          best = p;
          i = k;
        }
      }
      break;
    }
    case check::Policy::kReplay: {
      if (n < 2) break;
      const std::size_t at = schedule_.size();
      if (!params_.schedule || at >= params_.schedule->size() || (*params_.schedule)[at] >= n) {
        fail("diverged", "the replayed schedule does not fit this run at decision " +
                             std::to_string(at) +
                             " (the program changed, or it is not the "
                             "schedule of this program): continuing with the first choice");
        params_.policy = check::Policy::kRandom;  // keep going deterministically
        break;
      }
      i = (*params_.schedule)[at];
      break;
    }
  }
  record(n, i);
  return i;
}

std::size_t CheckRun::choose_waiter(std::size_t n) {
  if (n < 2) return 0;
  if (params_.policy == check::Policy::kReplay) return choose(n, nullptr);
  const std::size_t i = static_cast<std::size_t>(next_random() % n);  // PCT: any waiter
  record(n, i);
  return i;
}

void CheckRun::count_step() noexcept {
  ++steps_;
  if (next_change_ < change_points_.size() && steps_ >= change_points_[next_change_]) {
    // PCT: the running coroutine drops to priority i (1..d-1), below every initial one.
    ++next_change_;
    Worker* w = current_worker();
    if (Co* co = co_of(w ? w->current() : nullptr))
      co->priority = static_cast<std::int64_t>(next_change_);
  }
  if (steps_ > params_.max_steps) {
    fail("livelock", "no end after " + std::to_string(params_.max_steps) +
                         " scheduling decisions (Options::max_steps): a livelock or an endless "
                         "loop of weft calls");
    out_.details += describe_blocked();
    end_iteration(true);
  }
}

void CheckRun::drop_stale() noexcept {
  // Entries whose coroutine was run out of band (inline join, yield_to) and is not ready
  // now: as in the worker's deque, each held a reference of its own.
  std::size_t kept = 0;
  for (Coroutine* c : ready_) {
    const std::uint32_t s = c->state.load(std::memory_order_acquire);
    if (s == kFresh || s == kReady) {
      ready_[kept++] = c;
    } else {
      unref(c);
    }
  }
  ready_.resize(kept);
}

Coroutine* CheckRun::take(std::size_t index) noexcept {
  Coroutine* c = ready_[index];
  ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(index));
  // One thread runs everything here, so nothing competes for the claim (the worker's own
  // claim() CAS decides races between thieves, which do not exist in this mode).
  c->state.store(kRunning, std::memory_order_relaxed);
  return c;
}

Coroutine* CheckRun::pick(bool yielding) {
  if (Coroutine* f = std::exchange(forced_, nullptr)) {
    for (std::size_t i = 0; i < ready_.size(); ++i) {
      if (ready_[i] == f) return take(i);
    }
  }
  Worker* w = current_worker();
  if (yielding && params_.policy == check::Policy::kPct) {
    // A yield says "let the others go first": under PCT the highest-priority coroutine
    // would otherwise spin in a yield loop for ever.
    if (Co* co = co_of(w->current())) co->priority = --lowest_;
  }
  count_step();
  drop_stale();
  if (ready_.empty()) return nullptr;
  return take(choose(ready_.size(), nullptr));
}

void CheckRun::ready(Coroutine* c, bool woken) {
  if (woken) {
    c->state.store(kReady, std::memory_order_relaxed);
  } else if (!find_co(c->id)) {
    Co co;
    co.id = c->id;
    co.record = c;
    co.seq = next_seq_++;
    Worker* w = current_worker();
    if (const Co* parent = co_of(w ? w->current() : nullptr)) {
      co.parent = parent->seq;
      co.spawned_after = parent->last;
    }
    if (params_.policy == check::Policy::kPct) {
      co.priority =
          static_cast<std::int64_t>(params_.depth) + static_cast<std::int64_t>(next_random() >> 2);
    }
    cos_.insert(std::lower_bound(cos_.begin(), cos_.end(), co.id,
                                 [](const Co& x, std::uint64_t v) { return x.id < v; }),
                co);
  }
  ready_.push_back(c);
}

void CheckRun::spawned(const Coroutine* c, const std::type_info& body) noexcept {
  if (Co* co = find_co(c->id)) co->body = &body;
}

void CheckRun::completed(const Coroutine* c) noexcept {
  if (Co* co = find_co(c->id)) cos_.erase(cos_.begin() + (co - cos_.data()));
}

void CheckRun::point(CheckOp op, const void* object, Where where) noexcept {
  // The shared list (read by other threads) takes the lock only for an object new to this
  // iteration: a lock per point costs much under TSan's deadlock detector.
  if (object && std::find(seen_.begin(), seen_.end(), object) == seen_.end()) {
    seen_.push_back(object);
    std::lock_guard lock(mu_);
    touched_.push_back(object);
  }
  Worker* w = current_worker();
  Coroutine* me = w->current();
  if (Co* co = co_of(me)) {
    if (where.line() != 0) co->last = where;
    if (info_of(op).may_block) {
      co->has_wait = true;
      co->wait_op = op;
      co->wait_object = object;
      co->wait_at = where;
    }
  }
  if (!params_.preempt) return;
  count_step();
  drop_stale();
  if (ready_.empty()) return;
  const std::size_t n = ready_.size() + 1;  // the running coroutine is the last candidate
  const std::size_t i = choose(n, me);
  if (i == n - 1) return;
  forced_ = ready_[i];
  w->yield_current();  // its pick() takes forced_
}

std::string CheckRun::describe_blocked() const {
  std::vector<const Co*> all;
  for (const Co& co : cos_) all.push_back(&co);
  std::sort(all.begin(), all.end(), [](const Co* a, const Co* b) { return a->seq < b->seq; });
  std::ostringstream s;
  for (const Co* co : all) {
    s << "  coroutine #" << co->seq;
    if (co->seq == 1) s << " (the explored function)";
    if (co->has_wait) {
      const OpInfo info = info_of(co->wait_op);
      s << " blocked in " << info.call << " on " << info.kind << "@" << co->wait_object << " at "
        << where_of(co->wait_at);
    } else {
      s << " suspended before any weft call";
    }
    if (co->parent != 0) {
      s << "; spawned by #" << co->parent;
      if (co->spawned_after.line() != 0) s << " after its call at " << where_of(co->spawned_after);
      if (co->body) s << ", running " << demangle(*co->body);
    }
    s << "\n";
  }
  return s.str();
}

void CheckRun::keep_stacks_reachable() const noexcept {
#if WEFT_ASAN
  for (const Co& co : cos_) {
    if (const Stack* s = co.record->stack) __lsan_register_root_region(s->lo, s->size);
  }
#endif
}

void CheckRun::end_iteration(bool abandon) {
  if (abandon) keep_stacks_reachable();
  out_.steps = steps_;
  out_.abandoned = abandon;
  std::unique_lock lock(mu_);
  phase_ = Phase::kEnded;
  cv_.notify_all();
  if (!abandon) return;
  // The blocked coroutines sit mid-call in user code; nothing may resume them, so this
  // worker stays here (its Core and this CheckRun are never freed: see explore()).
  cv_.wait(lock, [] { return false; });
}

Coroutine* CheckRun::find_work(Worker& w) {
  tls_run = this;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return phase_ == Phase::kRunning || phase_ == Phase::kStop; });
      if (phase_ == Phase::kStop) return nullptr;
    }
    Coroutine* c = nullptr;
    while (w.core().try_pop_injected(c)) {
      if (c->state.load(std::memory_order_acquire) == kFresh) {
        ready(c, false);  // the root: no current coroutine, so no parent
      } else {
        ready_.push_back(c);  // woken from outside (reported by external())
      }
    }
    if (Coroutine* next = pick(false)) return next;
    // TaskGroup children that a suspended owner left in its deque are runnable work, not
    // a deadlock: they join the ready list as coroutines of their own (as a thief runs
    // them), in the stranded list's order.
    if (Coroutine* child = w.take_stranded_child()) {
      ready(child, false);
      continue;
    }
    if (!cos_.empty()) {
      const std::int64_t due = w.timers().earliest();
      if (due != TimerQueue::kNone) {
        // Everything is blocked and a timer is pending: virtual time jumps to it.
        now_ns_ = std::max(now_ns_, due);
        const Clock::time_point now{std::chrono::nanoseconds(now_ns_)};
        while (w.timers().fire(now, [&w](Waiter* x) { w.make_ready(x->co); }) != 0) {
        }
        continue;
      }
      const bool root_alive =
          std::any_of(cos_.begin(), cos_.end(), [](const Co& co) { return co.seq == 1; });
      if (root_alive) {
        fail("deadlock", "deadlock: every coroutine is blocked and no timer is pending:");
      } else {
        fail("leak",
             "leak: the explored function returned, but these coroutines are blocked "
             "for ever:");
      }
      out_.details += describe_blocked();
      end_iteration(true);
    }
    end_iteration(false);
  }
}

// ---- the seams of check_hook.hpp ----

namespace {
std::mutex g_runs_mu;
std::vector<CheckRun*> g_runs;  // under g_runs_mu: the explorations running now
}  // namespace

void register_run(CheckRun* r, bool add) {
  std::lock_guard lock(g_runs_mu);
  if (add) {
    g_runs.push_back(r);
  } else {
    g_runs.erase(std::find(g_runs.begin(), g_runs.end(), r));
  }
}

void check_outside_use(CheckOp op, const void* object, Where where) noexcept {
  try {
    const OpInfo info = info_of(op);
    std::ostringstream what;
    what << info.call << " on " << info.kind << "@" << object << " at " << where_of(where);
    std::lock_guard lock(g_runs_mu);
    for (CheckRun* r : g_runs) r->touched_from_outside(object, what.str());
  } catch (...) {  // out of memory while reporting: the report is lost, nothing else
  }
}

Waiter* check_pick_waiter(WaitQueue& q) noexcept {
  CheckRun* r = tls_run;
  if (!r || q.empty()) return q.pop_front();
  std::size_t n = 0;
  for (Waiter* w = q.front(); w; w = w->next) ++n;
  std::size_t i = r->choose_waiter(n);
  Waiter* w = q.front();
  while (i-- > 0) w = w->next;
  q.remove(*w);
  return w;
}

void check_refuse(const char* what) {
  if (!tls_run) return;
  throw std::logic_error(std::string("weft::check: ") + what +
                         " inside explore(): outside the model (its timing is real, not the "
                         "exploration's); test it without weft::check, or use a Channel");
}

void check_point_slow(CheckOp op, const void* object, Where where) noexcept {
  CheckRun* r = tls_run;
  if (!r) {
    // A plain thread (or another scheduler's coroutine): outside the model if it uses an
    // object of a running exploration.
    if (object) check_outside_use(op, object, where);
    return;
  }
  Worker* w = current_worker();
  if (!w || !w->current()) return;
  r->point(op, object, where);
}

std::chrono::steady_clock::time_point check_now_slow() noexcept {
  if (CheckRun* r = tls_run) {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(r->now_ns()));
  }
  return std::chrono::steady_clock::now();
}

void check_spawned_slow(Coroutine* spawned, const std::type_info& body) noexcept {
  CheckRun* r = tls_run;
  if (!r) return;
  r->spawned(spawned, body);
  check_point_slow(CheckOp::kSpawn, spawned, Where{});
}

void check_deadline_slow(std::chrono::steady_clock::time_point t) {
  if (!tls_run || t == std::chrono::steady_clock::time_point::max()) return;
  if (std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count() <
      CheckRun::kEpochNs / 2) {
    throw std::logic_error(
        "weft::check: an absolute deadline from the real std::chrono::steady_clock inside "
        "explore(): real time is outside the model; use weft::check::now() (or a relative "
        "timeout) for deadlines");
  }
}

}  // namespace weft::detail

#if WEFT_TSAN
// ThreadSanitizer calls this for every report it prints: one on an exploration's thread
// fails the iteration (the report itself is on stderr).
extern "C" void __tsan_on_report(void*) {
  if (weft::detail::CheckRun* r = weft::detail::CheckRun::of_this_thread()) {
    r->fail("tsan", "ThreadSanitizer reported a race (printed above)");
  }
}
#endif

namespace weft::check {
namespace {

using detail::CheckRun;

const char* policy_name(Policy p) noexcept {
  switch (p) {
    case Policy::kRandom:
      return "random";
    case Policy::kPct:
      return "pct";
    case Policy::kReplay:
      return "replay";
  }
  return "?";
}

// Parses "policy:seed:iteration:depth:steps".
bool parse_replay(const std::string& line, CheckRun::Params& p) {
  char name[16] = {};
  unsigned long long seed = 0, iteration = 0, steps = 0;
  unsigned depth = 0;
  if (std::sscanf(line.c_str(), "%15[a-z]:%llu:%llu:%u:%llu", name, &seed, &iteration, &depth,
                  &steps) != 5) {
    return false;
  }
  const std::string n = name;
  if (n == "random") {
    p.policy = Policy::kRandom;
  } else if (n == "pct") {
    p.policy = Policy::kPct;
  } else {
    return false;
  }
  p.seed = seed;
  p.iteration = iteration;
  p.depth = depth;
  p.pct_steps = steps;
  return true;
}

std::string replay_line(const CheckRun::Params& p) {
  return std::string(policy_name(p.policy)) + ":" + std::to_string(p.seed) + ":" +
         std::to_string(p.iteration) + ":" + std::to_string(p.depth) + ":" +
         std::to_string(p.pct_steps);
}

// explore() turns weft's unhandled-exception handler (process-wide) into a failure of the
// iteration while any exploration runs; other threads' coroutines keep the user's handler.
std::mutex g_handler_mu;
int g_handler_users = 0;                      // under g_handler_mu
UnhandledExceptionHandler g_saved = nullptr;  // under g_handler_mu

void on_unhandled(std::uint64_t id, std::exception_ptr e) noexcept {
  if (CheckRun* r = CheckRun::of_this_thread()) {
    r->fail("exception", "a detached coroutine threw " + detail::describe(e));
    return;
  }
  UnhandledExceptionHandler saved;
  {
    std::lock_guard lock(g_handler_mu);
    saved = g_saved;
  }
  (saved ? saved : &default_unhandled_exception_handler)(id, std::move(e));
}

struct Activation {
  Activation() {
    detail::g_check_active.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(g_handler_mu);
    if (g_handler_users++ == 0) g_saved = set_unhandled_exception_handler(&on_unhandled);
  }
  ~Activation() {
    {
      std::lock_guard lock(g_handler_mu);
      if (--g_handler_users == 0) set_unhandled_exception_handler(g_saved);
    }
    detail::g_check_active.fetch_sub(1, std::memory_order_relaxed);
  }
};

}  // namespace

Result explore(std::function<void()> fn, const Options& options) {
  if (!fn) throw std::invalid_argument("weft::check::explore: no function");
  Result result;
  CheckRun::Params base;
  base.policy = options.policy;
  base.seed = options.seed;
  base.depth = options.policy == Policy::kPct ? std::max(1u, options.depth) : 0;
  base.preempt = options.preempt;
  base.max_steps = options.max_steps;
  base.schedule = &options.schedule;
  std::uint64_t first = 0, count = options.iterations;
  std::string replay = options.replay;
  if (const char* env = std::getenv("WEFT_CHECK_REPLAY"); env && *env) replay = env;
  const bool replaying = !replay.empty() && options.policy != Policy::kReplay;
  if (replaying) {
    if (!parse_replay(replay, base)) {
      throw std::invalid_argument("weft::check: bad replay line '" + replay +
                                  "' (expected policy:seed:iteration:depth:steps, as printed)");
    }
    first = base.iteration;
    count = 1;
  }
  if (options.policy == Policy::kReplay) count = 1;

  const Activation active;
  auto* run = new CheckRun;
  detail::register_run(run, true);
  weft::Options so;
  so.workers = 1;
  so.stack_size = options.stack_size;
  auto* core = new detail::Core(so, run);
  bool abandoned = false;
  for (std::uint64_t i = first; i < first + count; ++i) {
    CheckRun::Params p = base;
    p.iteration = i;
    if (p.policy == Policy::kPct && !replaying) {
      p.pct_steps =
          options.pct_steps ? options.pct_steps : std::max<std::uint64_t>(16, result.max_steps);
    }
    Task<void> root = detail::make_task(core, fn);
    run->begin(p);
    CheckRun::Outcome o = run->wait_end();
    ++result.iterations;
    result.max_steps = std::max(result.max_steps, o.steps);
    if (root.done()) {
      try {
        root.join();
      } catch (...) {
        o.details = "  the explored function threw " + detail::describe(std::current_exception()) +
                    "\n" + o.details;
        o.kind = "exception";
      }
    } else {
      root.detach();  // left blocked in an abandoned run
    }
    result.schedule_hash = o.hash;
    if (!o.kind.empty() || i + 1 == first + count) result.schedule = run->schedule();
    if (o.abandoned) abandoned = true;
    if (o.kind.empty()) continue;
    result.ok = false;
    result.kind = o.kind;
    result.failed_iteration = i;
    std::ostringstream s;
    s << "weft::check: iteration " << i << " failed (" << policy_name(p.policy) << ", seed "
      << p.seed << ", " << o.steps << " steps, virtual time +"
      << (run->now_ns() - CheckRun::kEpochNs) / 1000000 << " ms): " << o.kind << "\n"
      << o.details;
    if (p.policy == Policy::kReplay) {
      s << "replay: Options::policy = kReplay with Result::schedule (" << result.schedule.size()
        << " decisions), schedule hash ";
    } else {
      result.replay = replay_line(p);
      s << "replay: WEFT_CHECK_REPLAY=" << result.replay << "   schedule hash ";
    }
    char hash[32];
    std::snprintf(hash, sizeof hash, "%016" PRIx64, o.hash);
    s << hash << "\n";
    result.report = s.str();
    if (options.print) std::fputs(result.report.c_str(), stderr);
    break;
  }
  detail::register_run(run, false);
  if (abandoned) {
    // Its worker stays blocked holding suspended coroutines: both live on, reachable.
    static auto* kept = new std::vector<std::pair<detail::Core*, CheckRun*>>;
    kept->emplace_back(core, run);
  } else {
    run->stop();
    delete core;
    delete run;
  }
  return result;
}

std::chrono::steady_clock::time_point now() noexcept {
  return detail::steady_now();
}

void require(bool condition, std::string_view what, detail::Where where) {
  if (condition) return;
  throw Failure("weft::check::require failed: " + std::string(what) + " at " + where.file_name() +
                ":" + std::to_string(where.line()));
}

}  // namespace weft::check
