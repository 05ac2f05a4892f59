// SPDX-License-Identifier: Apache-2.0
#include "poller.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace weft::detail {
namespace {

constexpr std::uint64_t kEventFdKey = UINT64_MAX;

// Every Poller and every plain thread blocked in an fd wait, so that close_fd() can find
// the waiters of an fd in every scheduler. Never destroyed: schedulers (the default one)
// and threads may outlive static destruction.
struct Registry {
  std::mutex mu;
  Poller* pollers = nullptr;
  ThreadFdWait* threads = nullptr;
};
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

// Set once the kernel said it has no epoll_pwait2 (before 5.11): it will not grow one, so
// from then on epoll_wait serves. Relaxed: a thread that still sees false only tries
// epoll_pwait2 once more and gets ENOSYS again.
std::atomic<bool> no_epoll_pwait2{false};

// epoll_pwait2 when the kernel has it (nanosecond timeouts), else epoll_wait with the
// timeout rounded up to milliseconds. `timeout_ns` < 0: forever.
int wait_events(int epfd, epoll_event* events, int max, std::int64_t timeout_ns) {
  if (!no_epoll_pwait2.load(std::memory_order_relaxed)) {
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                static_cast<long>(timeout_ns % 1'000'000'000)};
    const int n = epoll_pwait2(epfd, events, max, timeout_ns < 0 ? nullptr : &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    no_epoll_pwait2.store(true, std::memory_order_relaxed);
  }
  constexpr std::int64_t kMaxMs = INT_MAX;
  const std::int64_t ms =
      timeout_ns < 0 ? -1 : std::min(kMaxMs, (timeout_ns + 999'999) / 1'000'000);
  return epoll_wait(epfd, events, max, static_cast<int>(ms));
}

// The eventfd a plain thread polls besides its fd, so close_fd() can wake it. One per
// thread, made on its first wait.
struct ThreadWakeFd {
  int fd = -1;
  ~ThreadWakeFd() {
    if (fd >= 0) close(fd);
  }
};
thread_local ThreadWakeFd thread_wake_fd;

std::system_error os_error(int err, const std::string& what) {
  return std::system_error(err, std::generic_category(), what);
}

// The doubly linked intrusive lists here (an fd's waiters, the process's Pollers, the
// threads blocked in a ThreadFdWait) link through the nodes' own members Next and Prev.
template <auto Next, auto Prev, class Node>
void link_front(Node*& head, Node* n) noexcept {
  n->*Prev = nullptr;
  n->*Next = head;
  if (head) head->*Prev = n;
  head = n;
}

template <auto Next, auto Prev, class Node>
void unlink_node(Node*& head, Node* n) noexcept {
  if (n->*Prev) {
    (n->*Prev)->*Next = n->*Next;
  } else {
    head = n->*Next;
  }
  if (n->*Next) (n->*Next)->*Prev = n->*Prev;
}

void push_front(Waiter*& head, Waiter* w) noexcept {
  link_front<&Waiter::next, &Waiter::prev>(head, w);
  w->linked = true;
}

void unlink(Waiter*& head, Waiter* w) noexcept {
  unlink_node<&Waiter::next, &Waiter::prev>(head, w);
  w->linked = false;
}

// Claims every waiter of a detached list for `wakes` (under the entry's lock); they are
// woken when `wakes` goes out of scope, after the lock (the one wake protocol of
// weft/detail/wait.hpp). Returns how many it claimed.
int claim_list(Waiter* list, WakeList& wakes) noexcept {
  int woke = 0;
  while (list) {
    Waiter* w = list;
    list = w->next;  // before add(), which relinks w into `wakes`
    w->linked = false;
    woke += wakes.add(*w) ? 1 : 0;
  }
  return woke;
}

}  // namespace

Poller::Poller() : chunks_(std::make_unique<std::atomic<Entry*>[]>(kChunks)) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw os_error(errno, "weft: epoll_create1");
  eventfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventfd_ < 0) {
    const int err = errno;
    close(epfd_);
    throw os_error(err, "weft: eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kEventFdKey;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, eventfd_, &ev) != 0) {
    const int err = errno;
    close(eventfd_);
    close(epfd_);
    throw os_error(err, "weft: epoll_ctl(eventfd)");
  }
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  link_front<&Poller::reg_next_, &Poller::reg_prev_>(r.pollers, this);
}

Poller::~Poller() {
  {
    Registry& r = registry();
    std::lock_guard lock(r.mu);
    unlink_node<&Poller::reg_next_, &Poller::reg_prev_>(r.pollers, this);
  }
  close(eventfd_);
  close(epfd_);
  for (std::size_t i = 0; i < kChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

Poller::Entry& Poller::entry(int fd) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= kChunk * kChunks) {
    throw os_error(EBADF, "weft: cannot wait on fd " + std::to_string(fd));
  }
  auto& slot = chunks_[static_cast<std::size_t>(fd) / kChunk];
  Entry* chunk = slot.load(std::memory_order_acquire);
  if (!chunk) {
    std::lock_guard lock(grow_mu_);
    chunk = slot.load(std::memory_order_relaxed);
    if (!chunk) {
      chunk = new Entry[kChunk];
      slot.store(chunk, std::memory_order_release);  // entries are never moved or freed
    }
  }
  return chunk[static_cast<std::size_t>(fd) % kChunk];
}

void Poller::arm(int fd, const Entry& e) {
  epoll_event ev{};
  ev.events = EPOLLONESHOT | EPOLLRDHUP;
  if (e.readers) ev.events |= EPOLLIN;
  if (e.writers) ev.events |= EPOLLOUT;
  ev.data.u64 = static_cast<std::uint64_t>(fd);
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) return;
  if (errno == ENOENT && epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0) return;
  throw os_error(errno, "weft: cannot watch fd " + std::to_string(fd) + " (epoll_ctl)");
}

bool Poller::wait(int fd, std::uint32_t events, const Clock::time_point* deadline) {
  Entry& e = entry(fd);
  if (deadline && *deadline - Clock::now() < std::chrono::milliseconds(1)) {
    // A wait with a short timeout looks first, so the timer cannot beat already-present
    // readiness to the waiter (they would otherwise race for it). Longer waits skip the
    // extra system call: callers typically wait right after EAGAIN.
    pollfd p{fd, static_cast<short>(events == EPOLLIN ? POLLIN : POLLOUT), 0};
    if (::poll(&p, 1, 0) == 1 && !(p.revents & POLLNVAL)) return true;
  }
  Waiter*& list = events == EPOLLIN ? e.readers : e.writers;
  Waiter w;
  bool closed = false;  // set by close_fd() before it notifies us, or under e.lock
  w.slot = &closed;
  // Announce the wait, then make sure somebody collects it (the Dekker pairs are in
  // poller.hpp). The hook may wake a worker that blocks in epoll_wait before the fd is
  // armed below: that is fine, the kernel reports registrations made during a wait.
  waits_.fetch_add(1, std::memory_order_seq_cst);
  struct Leave {
    std::atomic<int>& waits;
    ~Leave() { waits.fetch_sub(1, std::memory_order_seq_cst); }
  } leave{waits_};
  if (collector_wake_ && !busy_.load(std::memory_order_seq_cst)) collector_wake_(collector_ctx_);
  e.lock.lock();
  push_front(list, &w);
  try {
    arm(fd, e);
  } catch (const std::system_error& err) {
    unlink(list, &w);
    e.lock.unlock();
    // Regular files and the like cannot be watched, and are always ready, as poll(2) says.
    if (err.code().value() == EPERM) return true;
    throw;
  }
  bool ready = park(w, e.lock, deadline);
  if (!ready) {
    e.lock.lock();
    if (w.linked) unlink(list, &w);  // timed out before an event or a close took it
    e.lock.unlock();
  }
  if (closed) throw closed_while_waiting(fd);
  return ready;
}

int Poller::poll(std::int64_t timeout_ns) {
  epoll_event events[64];
  const int n = wait_events(epfd_, events, 64, timeout_ns);
  if (n <= 0) return 0;  // timeout or EINTR
  int woke = 0;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kEventFdKey) {
      std::uint64_t drained;
      [[maybe_unused]] ssize_t r = read(eventfd_, &drained, sizeof drained);
      continue;
    }
    const int fd = static_cast<int>(events[i].data.u64);
    const std::uint32_t got = events[i].events;
    Entry& e = entry(fd);
    WakeList wakes;  // before the lock: wakes after it is released
    std::lock_guard lock(e.lock);
    Waiter* readers = nullptr;
    Waiter* writers = nullptr;
    if (got & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) std::swap(readers, e.readers);
    if (got & (EPOLLOUT | EPOLLHUP | EPOLLERR)) std::swap(writers, e.writers);
    if (e.readers || e.writers) {
      // One-shot: re-arm for the direction still waited on. If the fd is gone, wake those
      // waiters too; their next system call reports the error.
      try {
        arm(fd, e);
      } catch (const std::system_error&) {
        woke += claim_list(std::exchange(e.readers, nullptr), wakes);
        woke += claim_list(std::exchange(e.writers, nullptr), wakes);
      }
    }
    woke += claim_list(readers, wakes);
    woke += claim_list(writers, wakes);
  }
  return woke;
}

void Poller::interrupt() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(eventfd_, &one, sizeof one);
}

int Poller::close_fd(int fd) noexcept {
  WakeList wakes;  // before the locks: wakes once they are all released
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  // The fd's entry in every Poller stays locked across the close: a wait registering
  // before it is woken below, one registering after it finds the fd closed (epoll_ctl:
  // EBADF), and none can be woken by mistake for a new file that reuses the number. The
  // locked entries are remembered in closing_ (guarded by r.mu).
  for (Poller* p = r.pollers; p; p = p->reg_next_) {
    try {
      p->closing_ = &p->entry(fd);  // made if missing, so a racing wait cannot slip past
    } catch (...) {
      p->closing_ = nullptr;  // out of range (no wait can exist) or out of memory
      continue;
    }
    p->closing_->lock.lock();
    // Armed for waiters: drop the registration now, in case the file outlives the fd
    // (dup), when the kernel would keep it.
    if (p->closing_->readers || p->closing_->writers)
      epoll_ctl(p->epfd_, EPOLL_CTL_DEL, fd, nullptr);
  }
  const int err = ::close(fd) == 0 || errno == EINTR ? 0 : errno;
  for (Poller* p = r.pollers; p; p = p->reg_next_) {
    Entry* e = std::exchange(p->closing_, nullptr);
    if (!e) continue;
    for (Waiter* list : {std::exchange(e->readers, nullptr), std::exchange(e->writers, nullptr)}) {
      while (list) {
        Waiter* w = list;
        list = w->next;
        w->linked = false;
        *static_cast<bool*>(w->slot) = true;  // before claim(), which publishes it
        wakes.add(*w);  // false: it timed out; it finds the flag under e->lock
      }
    }
    e->lock.unlock();
  }
  for (ThreadFdWait* t = r.threads; t; t = t->next_) {
    if (t->fd_ != fd) continue;
    t->closed_.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(t->wake_fd_, &one, sizeof one);
  }
  return err;
}

ThreadFdWait::ThreadFdWait(int fd) : fd_(fd) {
  if (thread_wake_fd.fd < 0) {
    thread_wake_fd.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (thread_wake_fd.fd < 0) throw os_error(errno, "weft: eventfd");
  }
  wake_fd_ = thread_wake_fd.fd;
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  link_front<&ThreadFdWait::next_, &ThreadFdWait::prev_>(r.threads, this);
}

ThreadFdWait::~ThreadFdWait() {
  {
    Registry& r = registry();
    std::lock_guard lock(r.mu);
    unlink_node<&ThreadFdWait::next_, &ThreadFdWait::prev_>(r.threads, this);
  }
  // close_fd() writes the eventfd only while we are listed: drain it for the next wait.
  if (closed()) {
    std::uint64_t drained;
    [[maybe_unused]] ssize_t n = read(wake_fd_, &drained, sizeof drained);
  }
}

std::system_error closed_while_waiting(int fd) {
  return os_error(
      EBADF, "weft: fd " + std::to_string(fd) + " was closed while waiting on it (weft::close)");
}

}  // namespace weft::detail
