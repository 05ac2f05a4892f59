// SPDX-License-Identifier: Apache-2.0
/// @file
/// TCP sockets whose waiting calls suspend only the calling coroutine.
///
/// Every socket made here is non-blocking and close-on-exec. A call that would block
/// (accept, connect, read, write) waits with weft::wait_readable / wait_writable, so in a
/// coroutine only that coroutine waits while its worker runs others; on a plain thread the
/// same calls block the thread in poll(2).
///
/// Errors: std::system_error carrying the errno value, with a message that names the call
/// and the failing system call (e.g. "weft::net::connect_tcp(127.0.0.1:9): connect:
/// Connection refused"). EINTR is retried; EAGAIN waits. The documented exceptions are
/// read_some/read_exact returning short on end-of-stream and close() ignoring EINTR.
///
/// Timeouts: every waiting call takes an optional timeout (none: wait as long as it takes).
/// It bounds the whole call, not each wait inside it. When it passes the call throws
/// std::system_error whose code() == std::errc::timed_out (see is_timeout()); data already
/// moved by read_exact / write_all before that is lost to the caller, so treat a timeout
/// there as fatal for the connection.
///
/// Errors come only as exceptions or return values, never through errno: coroutines
/// migrate between workers at every wait, so errno after a call may be another thread's.
/// (Internally each errno is read right after its system call, before any suspension.)
///
/// Closing: close() and Socket go through weft::close, which wakes every coroutine or thread
/// waiting on the descriptor with EBADF ("closed while waiting"); a raw close(2) does not
/// (see weft/io.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include "weft/io.hpp"

namespace weft::net {

/// No value: wait as long as it takes. std::chrono::milliseconds(50) etc. convert to it,
/// saturating (hours::max() is practically forever).
using Timeout = weft::Timeout;

/// True when `e` reports a timeout of one of these calls (std::errc::timed_out).
bool is_timeout(const std::system_error& e) noexcept;

/// A listening TCP socket bound to host:port (a numeric IPv4/IPv6 address or a name such as
/// "localhost", resolved with getaddrinfo: so this call may block on a resolver), with
/// SO_REUSEADDR. Port 0 lets the kernel pick one: see local_port(). `backlog` is capped by
/// net.core.somaxconn. Throws std::system_error (std::errc::invalid_argument when the host
/// does not resolve).
int listen_tcp(const std::string& host, std::uint16_t port, int backlog = 4096);

/// The local port a socket is bound to (the one listen_tcp picked for port 0).
std::uint16_t local_port(int fd);

/// Accepts one connection: a non-blocking, close-on-exec socket with TCP_NODELAY.
/// Connections the peer aborted before they were accepted are skipped.
/// Throws on other errors, e.g. EMFILE (out of descriptors), EINVAL (listener shut down).
int accept(int listen_fd, Timeout timeout = {});

/// Connects to host:port: a non-blocking, close-on-exec socket with TCP_NODELAY. Tries
/// each resolved address in turn and reports the last failure (e.g. ECONNREFUSED).
int connect_tcp(const std::string& host, std::uint16_t port, Timeout timeout = {});

/// Reads what is available, up to `len` bytes, waiting for at least one (len > 0).
/// Returns 0 at end-of-stream (the peer closed or shut down its writing side).
/// ECONNRESET and other errors throw.
std::size_t read_some(int fd, void* buf, std::size_t len, Timeout timeout = {});

/// Reads exactly `len` bytes unless the stream ends first; returns how many it read
/// (< len only at end-of-stream).
std::size_t read_exact(int fd, void* buf, std::size_t len, Timeout timeout = {});

/// Writes what fits now, up to `len` bytes, waiting until at least one byte can be written
/// (len > 0). Returns the count written (> 0).
std::size_t write_some(int fd, const void* buf, std::size_t len, Timeout timeout = {});

/// Writes all `len` bytes. Sockets are written with send(MSG_NOSIGNAL), so a peer that has
/// gone away throws EPIPE or ECONNRESET instead of raising SIGPIPE; other descriptors
/// (pipes, in tests) fall back to write(2).
void write_all(int fd, const void* buf, std::size_t len, Timeout timeout = {});

/// Closes `fd` with weft::close: waiters on it are woken with EBADF. EINTR is ignored
/// (Linux has released the descriptor by then); EBADF and the like throw.
void close(int fd);

/// Owns one descriptor and closes it (as weft::close does) on destruction, errors ignored
/// there. Move-only.
class Socket {
 public:
  Socket() noexcept = default;
  /// Takes ownership of `fd`.
  explicit Socket(int fd) noexcept : fd_(fd) {}
  /// Takes over `o`'s descriptor; `o` becomes empty.
  Socket(Socket&& o) noexcept : fd_(o.release()) {}
  /// Closes the descriptor this one owns, if any, then takes over `o`'s.
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { reset(); }

  /// The descriptor, or -1 when empty.
  int get() const noexcept { return fd_; }
  /// True while it owns a descriptor.
  bool valid() const noexcept { return fd_ >= 0; }
  /// valid().
  explicit operator bool() const noexcept { return valid(); }
  /// Gives up ownership without closing.
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  /// Closes the owned descriptor (if any) and takes `fd`.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace weft::net
