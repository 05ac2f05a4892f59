// SPDX-License-Identifier: Apache-2.0
// weft::net: non-blocking TCP whose waits go through weft::wait_readable / wait_writable.
#include "weft/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>

#include "poller.hpp"
#include "weft/detail/wait_queue.hpp"
#include "weft/io.hpp"

namespace weft::net {

namespace {

using Clock = std::chrono::steady_clock;

// This thread's errno, read afresh. __errno_location() is declared const, so the compiler
// may reuse an errno address computed before a wait, after which the coroutine may run on
// another thread (a data race on that thread's errno). The call stays opaque: noinline,
// and the volatile asm keeps the optimizer from inferring that it is pure.
[[gnu::noinline]] int thread_errno() noexcept {
  asm volatile("");
  return errno;
}

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// what() reads "weft::net::accept(fd 5): Connection timed out": the error code's own
// message already says it timed out.
[[noreturn]] void throw_timeout(const std::string& what) {
  throw std::system_error(std::make_error_code(std::errc::timed_out), what);
}

// A timeout turned into a deadline once, so that a call that waits several times
// (read_exact, write_all) is bounded as a whole. Saturating: a huge timeout is "none".
class Deadline {
 public:
  explicit Deadline(Timeout t) {
    if (t) {
      const Clock::time_point at = weft::detail::deadline_after(*t);
      if (at != Clock::time_point::max()) at_ = at;
    }
  }
  // What is left of the timeout (zero once it has passed), or none.
  Timeout remaining() const {
    if (!at_) return std::nullopt;
    const auto left = *at_ - Clock::now();
    return left > Clock::duration::zero() ? std::chrono::nanoseconds(left)
                                          : std::chrono::nanoseconds(0);
  }

 private:
  std::optional<Clock::time_point> at_;
};

// Waits for `fd` to become readable (or writable); false once the deadline has passed.
bool wait_for(int fd, bool write, const Deadline& d) {
  const Timeout left = d.remaining();
  if (left && left->count() == 0) return false;
  return write ? weft::wait_writable(fd, left) : weft::wait_readable(fd, left);
}

// "weft::net::read_some(fd 7)": built only when something is thrown.
std::string call_on(const char* fn, int fd) {
  return std::string("weft::net::") + fn + "(fd " + std::to_string(fd) + ")";
}

std::string endpoint(const std::string& host, std::uint16_t port) {
  // Bracket IPv6 literals so the port stays readable.
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

struct AddrInfoDeleter {
  void operator()(addrinfo* p) const noexcept { freeaddrinfo(p); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

AddrInfoPtr resolve(const std::string& host, std::uint16_t port, bool passive,
                    const std::string& what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  const std::string service = std::to_string(port);
  addrinfo* res = nullptr;
  const int rc =
      ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc == EAI_SYSTEM) throw_errno(thread_errno(), what + ": getaddrinfo");
  if (rc != 0)
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            what + ": getaddrinfo: " + ::gai_strerror(rc));
  return AddrInfoPtr(res);
}

// Echo-style request/response traffic must not wait for Nagle's delayed coalescing.
void set_nodelay(int fd, const char* what) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    throw_errno(thread_errno(), std::string(what) + ": setsockopt(TCP_NODELAY)");
}

}  // namespace

bool is_timeout(const std::system_error& e) noexcept {
  return e.code() == std::errc::timed_out;
}

namespace {
// Tries the resolved addresses in turn, remembering the last failure for the error message.
struct AddressAttempts {
  int last_err = EADDRNOTAVAIL;
  std::string last_call = "no address";

  void failed(const char* call, int err) {
    last_err = err;
    last_call = call;
  }
  // A non-blocking, close-on-exec socket for `a` (empty, and the failure noted, if none).
  Socket open(const addrinfo* a) {
    Socket s(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!s) failed("socket", thread_errno());
    return s;
  }
  [[noreturn]] void give_up(const std::string& what) const {
    throw_errno(last_err, what + ": " + last_call);
  }
};

}  // namespace

int listen_tcp(const std::string& host, std::uint16_t port, int backlog) {
  const std::string what = "weft::net::listen_tcp(" + endpoint(host, port) + ")";
  AddrInfoPtr addrs = resolve(host, port, /*passive=*/true, what);
  AddressAttempts tries;
  for (const addrinfo* a = addrs.get(); a; a = a->ai_next) {
    Socket s = tries.open(a);
    if (!s) continue;
    // So a restarted server can rebind while old connections sit in TIME_WAIT.
    const int one = 1;
    if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
      throw_errno(thread_errno(), what + ": setsockopt(SO_REUSEADDR)");
    if (::bind(s.get(), a->ai_addr, a->ai_addrlen) != 0) {
      tries.failed("bind", thread_errno());
      continue;
    }
    if (::listen(s.get(), backlog) != 0) {
      tries.failed("listen", thread_errno());
      continue;
    }
    return s.release();
  }
  tries.give_up(what);
}

std::uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    throw_errno(thread_errno(), "weft::net::local_port: getsockname");
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  throw std::system_error(std::make_error_code(std::errc::address_family_not_supported),
                          "weft::net::local_port: not an IP socket");
}

int accept(int listen_fd, Timeout timeout) {
  const Deadline deadline(timeout);
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Socket s(fd);
      set_nodelay(fd, "weft::net::accept");
      return s.release();
    }
    const int err = thread_errno();
    if (err == EINTR) continue;
    // Linux passes the new socket's pending network errors to accept(); the listener itself
    // is fine, so they only mean "that one is gone, try the next" (see accept(2)).
    if (err == ECONNABORTED || err == EPROTO || err == ENETDOWN || err == ENOPROTOOPT ||
        err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH || err == ENETUNREACH)
      continue;
    if (err != EAGAIN && err != EWOULDBLOCK)
      throw_errno(err, call_on("accept", listen_fd) + ": accept4");
    if (!wait_for(listen_fd, /*write=*/false, deadline))
      throw_timeout(call_on("accept", listen_fd));
  }
}

int connect_tcp(const std::string& host, std::uint16_t port, Timeout timeout) {
  const std::string what = "weft::net::connect_tcp(" + endpoint(host, port) + ")";
  const Deadline deadline(timeout);
  AddrInfoPtr addrs = resolve(host, port, /*passive=*/false, what);
  AddressAttempts tries;
  for (const addrinfo* a = addrs.get(); a; a = a->ai_next) {
    Socket s = tries.open(a);
    if (!s) continue;
    int rc = ::connect(s.get(), a->ai_addr, a->ai_addrlen);
    int err = rc == 0 ? 0 : thread_errno();
    // An interrupted non-blocking connect goes on in the background, as EINPROGRESS does.
    if (err == EINPROGRESS || err == EINTR) {
      if (!wait_for(s.get(), /*write=*/true, deadline)) throw_timeout(what);
      socklen_t len = sizeof err;
      if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        throw_errno(thread_errno(), what + ": getsockopt(SO_ERROR)");
    }
    if (err != 0) {
      tries.failed("connect", err);
      continue;
    }
    set_nodelay(s.get(), what.c_str());
    return s.release();
  }
  tries.give_up(what);
}

std::size_t read_some(int fd, void* buf, std::size_t len, Timeout timeout) {
  if (len == 0) return 0;
  const Deadline deadline(timeout);
  for (;;) {
    // Try first: a busy connection usually has data, and then no wait is needed.
    const ssize_t n = ::read(fd, buf, len);
    if (n >= 0) return static_cast<std::size_t>(n);
    const int err = thread_errno();
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) throw_errno(err, call_on("read_some", fd) + ": read");
    if (!wait_for(fd, /*write=*/false, deadline)) throw_timeout(call_on("read_some", fd));
  }
}

std::size_t read_exact(int fd, void* buf, std::size_t len, Timeout timeout) {
  const Deadline deadline(timeout);
  auto* p = static_cast<char*>(buf);
  std::size_t got = 0;
  while (got < len) {
    const ssize_t n = ::read(fd, p + got, len - got);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) break;  // end-of-stream: the short count tells the caller
    const int err = thread_errno();
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) throw_errno(err, call_on("read_exact", fd) + ": read");
    if (!wait_for(fd, /*write=*/false, deadline)) throw_timeout(call_on("read_exact", fd));
  }
  return got;
}

namespace {

// One non-blocking write attempt: bytes written, or -1 with errno set. send() with
// MSG_NOSIGNAL keeps a vanished peer from killing the process with SIGPIPE; only sockets
// take send(), so anything else (ENOTSOCK) is written with write(2).
ssize_t write_once(int fd, const void* buf, std::size_t len) {
  const ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
  if (n < 0 && thread_errno() == ENOTSOCK) return ::write(fd, buf, len);
  return n;
}

}  // namespace

std::size_t write_some(int fd, const void* buf, std::size_t len, Timeout timeout) {
  if (len == 0) return 0;
  const Deadline deadline(timeout);
  for (;;) {
    const ssize_t n = write_once(fd, buf, len);
    if (n > 0) return static_cast<std::size_t>(n);
    const int err = n == 0 ? EAGAIN : thread_errno();
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) throw_errno(err, call_on("write_some", fd) + ": send");
    if (!wait_for(fd, /*write=*/true, deadline)) throw_timeout(call_on("write_some", fd));
  }
}

void write_all(int fd, const void* buf, std::size_t len, Timeout timeout) {
  const Deadline deadline(timeout);
  const auto* p = static_cast<const char*>(buf);
  std::size_t sent = 0;
  while (sent < len) {
    const ssize_t n = write_once(fd, p + sent, len - sent);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    const int err = n == 0 ? EAGAIN : thread_errno();
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) throw_errno(err, call_on("write_all", fd) + ": send");
    if (!wait_for(fd, /*write=*/true, deadline)) throw_timeout(call_on("write_all", fd));
  }
}

void close(int fd) {
  weft::close(fd);
}

void Socket::reset(int fd) noexcept {
  // Through weft::close, so waiters on the descriptor are woken (errors ignored here).
  if (fd_ >= 0) weft::detail::Poller::close_fd(fd_);
  fd_ = fd;
}

}  // namespace weft::net
