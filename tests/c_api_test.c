/* SPDX-License-Identifier: Apache-2.0 */
/* The C API (weft/weft.h) from C11, built with -std=c11 -Wall -Wextra -Wpedantic -Werror:
 * every call, its error codes, and the coroutine/thread behaviour it promises. Exceptions
 * crossing the boundary are tested from C++ in c_api_exception_test.cpp. */

/* POSIX (clock_gettime, pipe) under strict -std=c11. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <weft/weft.h>

static int failures;
static int checks;

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++checks;                                                                  \
    if (!(cond)) {                                                             \
      ++failures;                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- spawn, join, where am I ---- */

static void* add_one(void* arg) {
  return (void*)((char*)arg + 1);
}

static void* where(void* arg) {
  int* out = arg;
  out[0] = weft_in_coroutine();
  out[1] = weft_current_worker();
  out[2] = weft_coroutine_id() != 0;
  weft_yield();
  return NULL;
}

static void test_spawn_join(weft_scheduler* s) {
  char base[2];
  weft_task* t;
  CHECK(weft_spawn(s, add_one, base, &t) == 0);
  void* r = NULL;
  CHECK(weft_join(t, &r) == 0);
  CHECK(r == base + 1);
  CHECK(weft_spawn(s, NULL, NULL, &t) == -EINVAL);
  CHECK(weft_join(NULL, &r) == -EINVAL);
  CHECK(weft_detach(NULL) == -EINVAL);

  int w[3] = {0, -2, 0};
  CHECK(weft_spawn(s, where, w, &t) == 0);
  CHECK(weft_join(t, NULL) == 0);
  CHECK(w[0] == 1);
  CHECK(w[1] >= 0 && (unsigned)w[1] < weft_scheduler_workers(s));
  CHECK(w[2] == 1);
  CHECK(weft_in_coroutine() == 0);
  CHECK(weft_current_worker() == -1);
  CHECK(weft_coroutine_id() == 0);

  /* NULL scheduler from a plain thread: the default scheduler. */
  CHECK(weft_spawn(NULL, add_one, base, &t) == 0);
  CHECK(weft_join(t, &r) == 0 && r == base + 1);
}

/* A coroutine joining its own handle is refused, and the handle stays usable. The handle
 * arrives through a channel, since it exists only once weft_spawn has returned. */
static void* join_self(void* arg) {
  void* self;
  if (weft_channel_recv(arg, &self) != 0) return NULL;
  return (void*)(intptr_t)weft_join(self, NULL);
}

static void* destroy_own(void* arg) {
  return (void*)(intptr_t)weft_scheduler_destroy(arg);
}

static void test_refusals(weft_scheduler* s) {
  weft_channel* ch;
  CHECK(weft_channel_create(1, &ch) == 0);
  weft_task* t;
  CHECK(weft_spawn(s, join_self, ch, &t) == 0);
  CHECK(weft_channel_send(ch, t) == 0);
  void* r;
  CHECK(weft_join(t, &r) == 0);
  CHECK((intptr_t)r == -EDEADLK);
  weft_channel_destroy(ch);

  CHECK(weft_spawn(s, destroy_own, s, &t) == 0);
  CHECK(weft_join(t, &r) == 0);
  CHECK((intptr_t)r == -EDEADLK);
  CHECK(weft_scheduler_destroy(NULL) == -EINVAL);

  weft_options o;
  weft_options_init(&o);
  o.stack_size = 1; /* below one page */
  weft_scheduler* bad = NULL;
  CHECK(weft_scheduler_create(&o, &bad) == -EINVAL);
  CHECK(bad == NULL);
  CHECK(weft_scheduler_create(NULL, NULL) == -EINVAL);
}

/* ---- mutex ---- */

struct counter {
  weft_mutex* m;
  long value;
};

static void* increment(void* arg) {
  struct counter* c = arg;
  for (int i = 0; i < 500; ++i) {
    weft_mutex_lock(c->m);
    const long v = c->value;
    weft_yield(); /* others run while we hold the lock: they must wait */
    c->value = v + 1;
    weft_mutex_unlock(c->m);
  }
  return NULL;
}

static void test_mutex(weft_scheduler* s) {
  struct counter c = {NULL, 0};
  CHECK(weft_mutex_create(&c.m) == 0);
  weft_task* t[8];
  for (int i = 0; i < 8; ++i) CHECK(weft_spawn(s, increment, &c, &t[i]) == 0);
  increment(&c); /* a plain thread takes part too */
  for (int i = 0; i < 8; ++i) CHECK(weft_join(t[i], NULL) == 0);
  CHECK(c.value == 9 * 500);
  CHECK(weft_mutex_trylock(c.m) == 0);
  CHECK(weft_mutex_trylock(c.m) == -EBUSY);
  CHECK(weft_mutex_unlock(c.m) == 0);
  CHECK(weft_mutex_unlock(c.m) == -EPERM);
  weft_mutex_destroy(c.m);
}

/* ---- condition variable ---- */

struct box {
  weft_mutex* m;
  weft_cond* cv;
  int ready;
};

static void* set_ready(void* arg) {
  struct box* b = arg;
  weft_sleep_ms(5);
  weft_mutex_lock(b->m);
  b->ready = 1;
  weft_mutex_unlock(b->m);
  weft_cond_broadcast(b->cv);
  return NULL;
}

static void test_cond(weft_scheduler* s) {
  struct box b = {NULL, NULL, 0};
  CHECK(weft_mutex_create(&b.m) == 0);
  CHECK(weft_cond_create(&b.cv) == 0);
  weft_mutex_lock(b.m);
  const int64_t t0 = now_ms();
  CHECK(weft_cond_timedwait(b.cv, b.m, 20) == -ETIMEDOUT);
  CHECK(now_ms() - t0 >= 20);
  CHECK(weft_mutex_trylock(b.m) == -EBUSY); /* held again after the timeout */
  weft_task* t;
  CHECK(weft_spawn(s, set_ready, &b, &t) == 0);
  while (!b.ready) CHECK(weft_cond_wait(b.cv, b.m) == 0);
  weft_mutex_unlock(b.m);
  CHECK(weft_join(t, NULL) == 0);
  CHECK(weft_cond_wait(b.cv, b.m) == -EINVAL); /* not held */
  weft_cond_signal(b.cv);                      /* nobody waiting: a no-op */
  weft_cond_destroy(b.cv);
  weft_mutex_destroy(b.m);
}

/* ---- wait group ---- */

static void* sleep_then_done(void* arg) {
  weft_sleep_us(2000);
  weft_waitgroup_done(arg);
  return NULL;
}

static void test_waitgroup(weft_scheduler* s) {
  weft_waitgroup* wg;
  CHECK(weft_waitgroup_create(&wg) == 0);
  CHECK(weft_waitgroup_wait(wg, 0) == 0);
  CHECK(weft_waitgroup_done(wg) == -EINVAL); /* below zero: refused, unchanged */
  CHECK(weft_waitgroup_add(wg, 4) == 0);
  CHECK(weft_waitgroup_wait(wg, 1) == -ETIMEDOUT);
  for (int i = 0; i < 4; ++i) CHECK(weft_spawn(s, sleep_then_done, wg, NULL) == 0);
  CHECK(weft_waitgroup_wait(wg, -1) == 0);
  CHECK(weft_waitgroup_add(wg, INT64_MAX) == 0);
  CHECK(weft_waitgroup_add(wg, 1) == -EOVERFLOW);
  CHECK(weft_waitgroup_add(wg, -INT64_MAX) == 0);
  weft_waitgroup_destroy(wg);
}

/* ---- channel ---- */

static void* produce(void* arg) {
  weft_channel* ch = arg;
  for (intptr_t i = 1; i <= 100; ++i)
    if (weft_channel_send(ch, (void*)i) != 0) return (void*)-1;
  weft_channel_close(ch);
  return NULL;
}

static void test_channel(weft_scheduler* s) {
  weft_channel* ch;
  CHECK(weft_channel_create(0, &ch) == 0);
  weft_task* t;
  CHECK(weft_spawn(s, produce, ch, &t) == 0);
  intptr_t sum = 0;
  void* v;
  int rc;
  while ((rc = weft_channel_recv(ch, &v)) == 0) sum += (intptr_t)v;
  CHECK(rc == -EPIPE);
  CHECK(sum == 5050);
  void* r;
  CHECK(weft_join(t, &r) == 0 && r == NULL);
  CHECK(weft_channel_send(ch, NULL) == -EPIPE);
  CHECK(weft_channel_try_recv(ch, &v) == -EPIPE);
  weft_channel_destroy(ch);

  CHECK(weft_channel_create(1, &ch) == 0);
  CHECK(weft_channel_try_recv(ch, &v) == -EAGAIN);
  CHECK(weft_channel_try_send(ch, &sum) == 0);
  CHECK(weft_channel_try_send(ch, &sum) == -EAGAIN);
  weft_channel_close(ch);
  CHECK(weft_channel_try_send(ch, &sum) == -EPIPE);
  CHECK(weft_channel_try_recv(ch, &v) == 0 && v == &sum); /* drained after the close */
  CHECK(weft_channel_recv(ch, &v) == -EPIPE);
  weft_channel_destroy(ch);
}

/* ---- sleep and fd waits ---- */

static void* wait_pipe(void* arg) {
  const int fd = *(const int*)arg;
  return (void*)(intptr_t)weft_wait_readable(fd, -1);
}

static void test_time_and_fds(weft_scheduler* s) {
  int64_t t0 = now_ms();
  CHECK(weft_sleep_ms(10) == 0);
  CHECK(now_ms() - t0 >= 10);
  t0 = now_ms();
  CHECK(weft_sleep_us(3000) == 0);
  CHECK(now_ms() - t0 >= 3);

  int p[2];
  CHECK(pipe(p) == 0);
  CHECK(weft_wait_readable(p[0], 10) == -ETIMEDOUT);
  CHECK(weft_wait_writable(p[1], 0) == 0);
  CHECK(write(p[1], "x", 1) == 1);
  CHECK(weft_wait_readable(p[0], 1000) == 0);
  char c;
  CHECK(read(p[0], &c, 1) == 1);

  /* weft_close wakes a waiter with -EBADF; an fd that is not open is -EBADF at once. */
  weft_task* t;
  CHECK(weft_spawn(s, wait_pipe, &p[0], &t) == 0);
  weft_sleep_ms(20);
  CHECK(weft_close(p[0]) == 0);
  void* r;
  CHECK(weft_join(t, &r) == 0);
  CHECK((intptr_t)r == -EBADF);
  CHECK(weft_wait_readable(p[0], 0) == -EBADF);
  CHECK(weft_close(p[1]) == 0);
  CHECK(weft_close(p[1]) == -EBADF);
}

int main(void) {
  CHECK(weft_version() != NULL && weft_version()[0] >= '0' && weft_version()[0] <= '9');
  weft_options o;
  weft_options_init(&o);
  CHECK(o.stack_size == 64 * 1024 && o.workers == 0 && o.trace == NULL);
  o.workers = 2;
  weft_scheduler* s = NULL;
  CHECK(weft_scheduler_create(&o, &s) == 0);
  if (!s) return 1;
  CHECK(weft_scheduler_workers(s) == 2);
  test_spawn_join(s);
  test_refusals(s);
  test_mutex(s);
  test_cond(s);
  test_waitgroup(s);
  test_channel(s);
  test_time_and_fds(s);
  CHECK(weft_scheduler_destroy(s) == 0);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
