#include "poller.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace weft::detail {
namespace {

constexpr std::uint64_t kEventFdKey = UINT64_MAX;

std::system_error os_error(int err, const std::string& what) {
  return std::system_error(err, std::generic_category(), what);
}

void push_front(Waiter*& head, Waiter* w) noexcept {
  w->prev = nullptr;
  w->next = head;
  if (head) head->prev = w;
  head = w;
  w->linked = true;
}

void unlink(Waiter*& head, Waiter* w) noexcept {
  if (w->prev) w->prev->next = w->next;
  if (w->next) w->next->prev = w->prev;
  if (head == w) head = w->next;
  w->linked = false;
}

// Notifies every waiter of a detached list (under the entry's lock, as notify() requires).
int notify_list(Waiter* list) noexcept {
  int woke = 0;
  while (list) {
    Waiter* w = list;
    list = w->next;
    w->linked = false;
    woke += notify(*w) ? 1 : 0;
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
}

Poller::~Poller() {
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
  waits_.fetch_add(1, std::memory_order_acq_rel);
  const bool ready = park(w, e.lock, deadline);
  if (!ready) {
    e.lock.lock();
    if (w.linked) unlink(list, &w);  // timed out before an event took it
    e.lock.unlock();
  }
  waits_.fetch_sub(1, std::memory_order_acq_rel);
  return ready;
}

int Poller::poll(std::int64_t timeout_ns) {
  epoll_event events[64];
  int n;
  if (timeout_ns < 0) {
    n = epoll_pwait2(epfd_, events, 64, nullptr, nullptr);
  } else {
    timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
                static_cast<long>(timeout_ns % 1'000'000'000)};
    n = epoll_pwait2(epfd_, events, 64, &ts, nullptr);
    if (n < 0 && errno == ENOSYS) {  // kernels before 5.11: millisecond resolution, rounded up
      n = epoll_wait(epfd_, events, 64, static_cast<int>((timeout_ns + 999'999) / 1'000'000));
    }
  }
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
        woke += notify_list(std::exchange(e.readers, nullptr));
        woke += notify_list(std::exchange(e.writers, nullptr));
      }
    }
    woke += notify_list(readers);
    woke += notify_list(writers);
  }
  return woke;
}

void Poller::interrupt() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(eventfd_, &one, sizeof one);
}

}  // namespace weft::detail
