// Waiting for a file descriptor, suspending only the calling coroutine.
#pragma once

#include <chrono>
#include <optional>

namespace weft {

using Timeout = std::optional<std::chrono::nanoseconds>;

// In a coroutine: suspends it until `fd` is readable (data, EOF, peer hang-up or error
// also count), or the timeout passes; the worker runs other coroutines meanwhile, and an
// idle worker waits in epoll_wait. On a plain thread: poll(2). Returns false on timeout.
// Readiness is level-triggered: an fd with unread data is reported readable at once.
// Several coroutines may wait on one fd; readiness wakes all of them (each retries).
// Fds that epoll cannot watch (regular files, /dev/null) are always ready, as with poll(2).
// Throws std::system_error for an fd that is not open (EBADF).
bool wait_readable(int fd, std::optional<std::chrono::nanoseconds> timeout = {});
// The same for writability.
bool wait_writable(int fd, std::optional<std::chrono::nanoseconds> timeout = {});

// Closes `fd`.
void close(int fd);

}  // namespace weft
