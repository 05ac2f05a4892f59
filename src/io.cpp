// SPDX-License-Identifier: Apache-2.0
// weft::wait_readable / wait_writable / close.
#include "weft/io.hpp"

#include <poll.h>
#include <sys/epoll.h>

#include <cerrno>
#include <climits>
#include <string>
#include <system_error>

#include "core.hpp"
#include "poller.hpp"
#include "weft/detail/wait_queue.hpp"
#include "worker.hpp"

namespace weft {
namespace {

using detail::Clock;

[[noreturn]] void bad_fd(int fd) {
  throw std::system_error(EBADF, std::generic_category(),
                          "weft: cannot wait on fd " + std::to_string(fd));
}

// poll(2)'s timeout until `deadline` (nullptr: forever): milliseconds rounded up, so the
// wait never ends early, and capped (a caller loops until the deadline).
int poll_timeout_ms(const Clock::time_point* deadline) {
  if (!deadline) return -1;
  const auto left = *deadline - Clock::now();  // no overflow: both are times on one clock
  if (left <= left.zero()) return 0;
  constexpr auto kMax = std::chrono::milliseconds(INT_MAX);
  if (left >= kMax) return INT_MAX;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

bool wait_fd(int fd, std::uint32_t events, short poll_events, Timeout timeout) {
  if (fd < 0) bad_fd(fd);
  // weft::check: real fds are outside the model (their readiness is real time and I/O).
  if (detail::check_active()) [[unlikely]]
    detail::check_refuse("weft::wait_readable/wait_writable on a real fd");
  // One saturating deadline; time_point::max() (a huge timeout) is the same as none.
  const Clock::time_point at =
      timeout ? detail::deadline_after(*timeout) : Clock::time_point::max();
  const Clock::time_point* deadline = at == Clock::time_point::max() ? nullptr : &at;
  detail::Worker* w = detail::current_worker();
  if (w && w->current()) return w->core().poller().wait(fd, events, deadline);
  // A plain thread blocks in poll(2) on the fd and its wake-up eventfd, which weft::close
  // signals when it closes the fd.
  detail::ThreadFdWait registered(fd);
  for (;;) {
    pollfd p[2] = {{fd, poll_events, 0}, {registered.wake_fd(), POLLIN, 0}};
    const int n = ::poll(p, 2, poll_timeout_ms(deadline));
    const int err = errno;  // a plain thread: no migration between the call and this read
    if (registered.closed()) throw detail::closed_while_waiting(fd);
    if (n > 0) {
      if (p[0].revents & POLLNVAL) bad_fd(fd);
      if (p[0].revents) return true;
      continue;
    }
    if (n == 0) {
      if (deadline && Clock::now() < *deadline) continue;  // a capped timeout ran out
      return false;
    }
    if (err != EINTR) throw std::system_error(err, std::generic_category(), "weft: poll");
  }
}

}  // namespace

bool wait_readable(int fd, Timeout timeout) {
  return wait_fd(fd, EPOLLIN, POLLIN, timeout);
}

bool wait_writable(int fd, Timeout timeout) {
  return wait_fd(fd, EPOLLOUT, POLLOUT, timeout);
}

void close(int fd) {
  const int err = fd < 0 ? EBADF : detail::Poller::close_fd(fd);
  if (err != 0) {
    throw std::system_error(err, std::generic_category(),
                            "weft::close(fd " + std::to_string(fd) + ")");
  }
}

}  // namespace weft
