// SPDX-License-Identifier: Apache-2.0
/// @file
/// Waiting for a file descriptor, suspending only the calling coroutine; closing one that
/// others wait on.
///
/// Errors come as exceptions (std::system_error carrying the errno value) or return values,
/// never through errno: a coroutine may resume on another thread after any wait, and the
/// compiler may keep using the errno address of the thread it started on.
#pragma once

#include <chrono>
#include <optional>

#include "weft/detail/deadline.hpp"

namespace weft {

/// A timeout: none (std::nullopt or {}: wait as long as it takes) or a duration of any
/// unit. Durations convert rounded up to nanoseconds and saturate: hours::max() means
/// "practically forever", never an overflow into the past. Zero or negative: just look.
class Timeout : public std::optional<std::chrono::nanoseconds> {
 public:
  constexpr Timeout() noexcept = default;
  /// No timeout.
  constexpr Timeout(std::nullopt_t) noexcept {}
  /// From an optional duration: std::nullopt is no timeout.
  constexpr Timeout(std::optional<std::chrono::nanoseconds> t) noexcept
      : std::optional<std::chrono::nanoseconds>(t) {}
  template <class Rep, class Period>
  /// From any duration (rounded up to nanoseconds, saturating).
  constexpr Timeout(std::chrono::duration<Rep, Period> d) noexcept
      : std::optional<std::chrono::nanoseconds>(
            detail::saturating_ceil<std::chrono::nanoseconds>(d)) {}
};

/// In a coroutine: suspends it until `fd` is readable (data, EOF, peer hang-up or error
/// also count), or the timeout passes; the worker runs other coroutines meanwhile, and an
/// idle worker waits in epoll_wait. On a plain thread: poll(2). Returns false on timeout.
/// Readiness is level-triggered: an fd with unread data is reported readable at once.
/// Several coroutines may wait on one fd; readiness wakes all of them (each retries).
/// Fds that epoll cannot watch (regular files, /dev/null) are always ready, as with poll(2).
/// Throws std::system_error (EBADF) for an fd that is not open, and when weft::close closes
/// `fd` during the wait ("closed while waiting").
bool wait_readable(int fd, Timeout timeout = {});
/// The same for writability.
bool wait_writable(int fd, Timeout timeout = {});

/// Closes `fd` and wakes every coroutine (of every scheduler) and every thread waiting on it
/// in wait_readable / wait_writable (or the weft::net calls): each throws std::system_error
/// with EBADF, "closed while waiting". EINTR is ignored (Linux has released the descriptor
/// by then); EBADF and the like throw.
///
/// A raw close(2) does NOT wake them: the kernel drops the epoll registration when the
/// file's last descriptor closes, and a thread blocked in poll(2) is not woken either, so
/// waiters sleep until their timeout, forever without one. Close descriptors that others
/// may wait on with weft::close. As with any fd API, the number may be reused by the next
/// open(): a wait that starts after the close then waits on the new file.
void close(int fd);

}  // namespace weft
