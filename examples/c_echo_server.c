/* SPDX-License-Identifier: Apache-2.0 */
/* An echo server written against weft's C API, in the style of NtyCo's example: one
 * coroutine per connection, each a plain `void* (*)(void*)`. Sockets are non-blocking;
 * where a call would block, weft_wait_readable / weft_wait_writable suspend only the
 * coroutine while its worker runs the others. Errors are negative errno values.
 *
 *   weft-example-c_echo_server          serves on a free port and checks itself with 4
 *                                       client coroutines doing 100 round trips each
 *   weft-example-c_echo_server PORT     serves on PORT until killed */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <weft/weft.h>

enum { kClients = 4, kRounds = 100, kIdleMs = 5000 };

static int make_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -errno : (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -errno : 0);
}

/* Reads what is there, waiting (only this coroutine) until something is. errno is read
 * right after the call that set it: a coroutine may resume on another thread after any
 * weft call, and with it another thread's errno. */
static ssize_t co_read(int fd, void* buf, size_t len, int64_t timeout_ms) {
  for (;;) {
    const ssize_t n = read(fd, buf, len);
    if (n >= 0) return n;
    const int err = errno;
    if (err != EAGAIN) return -err;
    const int rc = weft_wait_readable(fd, timeout_ms);
    if (rc < 0) return rc;
  }
}

static int co_write_all(int fd, const char* buf, size_t len) {
  while (len > 0) {
    const ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
      const int err = errno;
      if (err != EAGAIN) return -err;
      const int rc = weft_wait_writable(fd, kIdleMs);
      if (rc < 0) return rc;
      continue;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* One connection: echo until EOF, an error, or kIdleMs of silence. */
static void* serve_connection(void* arg) {
  const int fd = (int)(intptr_t)arg;
  char buf[4096];
  for (;;) {
    const ssize_t n = co_read(fd, buf, sizeof buf, kIdleMs);
    if (n <= 0 || co_write_all(fd, buf, (size_t)n) < 0) break;
  }
  weft_close(fd);
  return NULL;
}

/* Accepts connections and spawns a detached coroutine for each. */
static void* accept_loop(void* arg) {
  const int listener = (int)(intptr_t)arg;
  for (;;) {
    const int fd = accept(listener, NULL, NULL);
    if (fd < 0) {
      const int err = errno;
      if (err != EAGAIN) break; /* the listener was shut down, or a real error */
      if (weft_wait_readable(listener, -1) < 0) break;
      continue;
    }
    if (make_nonblocking(fd) < 0 ||
        weft_spawn(NULL, serve_connection, (void*)(intptr_t)fd, NULL) < 0)
      close(fd);
  }
  return NULL;
}

static int listen_on(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  const int one = 1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr*)&a, sizeof a) < 0 || listen(fd, 128) < 0) {
    const int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

static uint16_t port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr*)&a, &len);
  return ntohs(a.sin_port);
}

/* A client coroutine: kRounds messages, each read back and compared; returns the matches. */
static void* client(void* arg) {
  const uint16_t port = (uint16_t)(uintptr_t)arg;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  intptr_t matched = 0;
  if (fd < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) < 0 || make_nonblocking(fd) < 0) {
    if (fd >= 0) close(fd);
    return (void*)matched;
  }
  for (int r = 0; r < kRounds; ++r) {
    char msg[64], back[64];
    const int len = snprintf(msg, sizeof msg, "coroutine %llu round %d",
                             (unsigned long long)weft_coroutine_id(), r);
    if (co_write_all(fd, msg, (size_t)len) < 0) break;
    int got = 0;
    while (got < len) {
      const ssize_t n = co_read(fd, back + got, (size_t)(len - got), kIdleMs);
      if (n <= 0) break;
      got += (int)n;
    }
    if (got == len && memcmp(msg, back, (size_t)len) == 0) ++matched;
  }
  weft_close(fd);
  return (void*)matched;
}

int main(int argc, char** argv) {
  weft_options opts;
  weft_options_init(&opts);
  opts.workers = 2;
  weft_scheduler* sched;
  int rc = weft_scheduler_create(&opts, &sched);
  if (rc < 0) {
    fprintf(stderr, "weft_scheduler_create: %s\n", strerror(-rc));
    return 1;
  }
  const int listener = listen_on(argc > 1 ? (uint16_t)atoi(argv[1]) : 0);
  if (listener < 0) {
    fprintf(stderr, "listen: %s\n", strerror(-listener));
    return 1;
  }
  const uint16_t port = port_of(listener);
  printf("c_echo_server: weft %s, listening on 127.0.0.1:%u\n", weft_version(), port);
  fflush(stdout);

  weft_task* server;
  rc = weft_spawn(sched, accept_loop, (void*)(intptr_t)listener, &server);
  if (rc < 0) return 1;
  if (argc > 1) return weft_join(server, NULL) < 0; /* serve until killed */

  weft_task* clients[kClients];
  for (int i = 0; i < kClients; ++i)
    if (weft_spawn(sched, client, (void*)(uintptr_t)port, &clients[i]) < 0) return 1;
  long total = 0;
  for (int i = 0; i < kClients; ++i) {
    void* matched;
    if (weft_join(clients[i], &matched) == 0) total += (long)(intptr_t)matched;
  }

  /* Stop: shutting the listener down wakes the accept loop (accept then fails with EINVAL). */
  shutdown(listener, SHUT_RDWR);
  weft_join(server, NULL);
  close(listener);
  weft_scheduler_destroy(sched);
  const int ok = total == kClients * kRounds;
  printf("c_echo_server: %d clients, %ld round trips, %s\n", kClients, total,
         ok ? "all bytes matched" : "MISMATCH");
  return ok ? 0 : 1;
}
