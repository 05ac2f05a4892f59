// weft::wait_readable / wait_writable.
#include "weft/io.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "core.hpp"
#include "worker.hpp"

namespace weft {
namespace {

bool wait_fd(int fd, std::uint32_t events, short poll_events,
             std::optional<std::chrono::nanoseconds> timeout) {
  if (fd < 0) {
    throw std::system_error(EBADF, std::generic_category(),
                            "weft: cannot wait on fd " + std::to_string(fd));
  }
  const auto deadline = timeout ? std::chrono::steady_clock::now() + *timeout
                                : std::chrono::steady_clock::time_point{};
  detail::Worker* w = detail::current_worker();
  if (w && w->current()) {
    return w->core().poller().wait(fd, events, timeout ? &deadline : nullptr);
  }
  // A plain thread simply blocks in poll(2).
  for (;;) {
    int ms = -1;
    if (timeout) {
      const auto left = deadline - std::chrono::steady_clock::now();
      ms = left <= left.zero()
               ? 0
               : static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
    }
    pollfd p{fd, poll_events, 0};
    const int n = ::poll(&p, 1, ms);
    if (n > 0) {
      if (p.revents & POLLNVAL) {
        throw std::system_error(EBADF, std::generic_category(),
                                "weft: cannot wait on fd " + std::to_string(fd));
      }
      return true;
    }
    if (n == 0) return false;
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "weft: poll");
  }
}

}  // namespace

bool wait_readable(int fd, std::optional<std::chrono::nanoseconds> timeout) {
  return wait_fd(fd, EPOLLIN, POLLIN, timeout);
}

bool wait_writable(int fd, std::optional<std::chrono::nanoseconds> timeout) {
  return wait_fd(fd, EPOLLOUT, POLLOUT, timeout);
}

void close(int fd) {
  if (::close(fd) != 0 && errno != EINTR)
    throw std::system_error(errno, std::generic_category(), "weft::close");
}

}  // namespace weft
