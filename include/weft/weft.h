/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * weft's C API, for C11 and C++ callers: schedulers, coroutines of `void* (*)(void*)`,
 * yield, sleep, fd waits, mutex, condition variable, wait group and a channel of `void*`.
 *
 * Every call that can fail returns 0 on success or a negative errno value (-EINVAL,
 * -ENOMEM, -ETIMEDOUT, ...); errno itself is never used. No C++ exception crosses this
 * boundary: each is caught inside the library and turned into a code. Like the C++ API,
 * every blocking call suspends only the calling coroutine inside one and blocks the thread
 * outside, and both kinds of callers may meet on one object.
 *
 * Link with libweft (`pkg-config --libs weft`, or the CMake target weft::weft); the library
 * is C++, so link the final program with a C++ compiler or add -lstdc++.
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A scheduler: a fixed pool of worker threads (weft::Scheduler). */
typedef struct weft_scheduler weft_scheduler;
/** The handle of a spawned coroutine; weft_join() or weft_detach() frees it. */
typedef struct weft_task weft_task;
/** A mutex for coroutines and threads (weft::Mutex): FIFO hand-off, no recursion. */
typedef struct weft_mutex weft_mutex;
/** A condition variable used with a weft_mutex (weft::CondVar). */
typedef struct weft_cond weft_cond;
/** A counter to wait for a set of activities (weft::WaitGroup). */
typedef struct weft_waitgroup weft_waitgroup;
/** A bounded channel of `void*` (weft::Channel<void*>). */
typedef struct weft_channel weft_channel;

/** A coroutine's body: takes the argument given to weft_spawn(), returns its result. */
typedef void* (*weft_fn)(void* arg);

/** How a scheduler is built; weft_options_init() fills in the defaults. */
typedef struct weft_options {
  unsigned workers;  /**< worker threads; 0: the number of CPUs */
  size_t stack_size; /**< usable bytes of each coroutine stack (default 64 KiB) */
  size_t guard_size; /**< bytes of the PROT_NONE guard below each stack (default 4 KiB) */
  int pin_workers;   /**< nonzero: pin worker i to CPU i mod CPUs */
  const char* trace; /**< path for the Chrome Trace JSON timeline; NULL: WEFT_TRACE decides */
} weft_options;

/** Fills `options` with the defaults of weft::Options. */
void weft_options_init(weft_options* options);

/**
 * Starts a scheduler's workers and stores it in `*out`.
 * @param options NULL for the defaults.
 * @param out receives the scheduler.
 * @return 0, -EINVAL for an option out of range, -ENOMEM, -EAGAIN when a thread cannot start.
 */
int weft_scheduler_create(const weft_options* options, weft_scheduler** out);
/**
 * Waits for every coroutine spawned on `sched`, joins its workers and frees it.
 * @return 0, -EINVAL for NULL, -EDEADLK when called from one of its own coroutines.
 */
int weft_scheduler_destroy(weft_scheduler* sched);
/** The number of worker threads of `sched`. */
unsigned weft_scheduler_workers(const weft_scheduler* sched);

/**
 * Runs `fn(arg)` in a new coroutine.
 * @param sched the scheduler; NULL: the calling worker's, or the process-wide default one
 *   (created on first use, shut down at exit) on any other thread.
 * @param fn the body.
 * @param arg passed to `fn` as is.
 * @param out receives the handle to join or detach; NULL: the coroutine is detached at once.
 * @return 0, -EINVAL for a NULL `fn`, -ENOMEM, -ENOTSUP on a scheduler created before fork().
 */
int weft_spawn(weft_scheduler* sched, weft_fn fn, void* arg, weft_task** out);
/**
 * Waits for the coroutine to end, stores what `fn` returned in `*result` (unless NULL) and
 * frees `task`.
 * @return 0; -EDEADLK for a coroutine joining itself (`task` stays valid, as for any
 *   error before waiting); -ECANCELED when
 *   the body ended by a C++ exception that carries no errno (a std::system_error gives its
 *   code, std::bad_alloc -ENOMEM), `task` freed either way.
 */
int weft_join(weft_task* task, void** result);
/**
 * Lets the coroutine run on unjoined and frees `task`; a C++ exception escaping it goes to
 * weft's unhandled-exception handler (by default: a message and std::terminate).
 * @return 0, or -EINVAL for NULL.
 */
int weft_detach(weft_task* task);
/** Nonzero once the coroutine of `task` has finished (weft_join() will not wait). */
int weft_task_done(const weft_task* task);

/** Lets the other ready coroutines of this worker run; on a plain thread, sched_yield(). @return 0
 */
int weft_yield(void);
/** Sleeps at least `ms` milliseconds (in a coroutine, only the coroutine). @return 0 or -ENOMEM */
int weft_sleep_ms(uint64_t ms);
/** Sleeps at least `us` microseconds (in a coroutine, only the coroutine). @return 0 or -ENOMEM */
int weft_sleep_us(uint64_t us);

/**
 * Waits until `fd` is readable (data, EOF, hang-up or error count), suspending only the
 * calling coroutine.
 * @param fd the descriptor.
 * @param timeout_ms negative: no timeout; 0: just look.
 * @return 0 when readable, -ETIMEDOUT, -EBADF for an fd not open or closed meanwhile by
 *   weft_close().
 */
int weft_wait_readable(int fd, int64_t timeout_ms);
/** weft_wait_readable() for writability. @return 0, -ETIMEDOUT or -EBADF. */
int weft_wait_writable(int fd, int64_t timeout_ms);
/**
 * Closes `fd` and wakes everyone waiting on it (each gets -EBADF); a plain close(2) wakes
 * nobody. @return 0 or the negative errno of close(2).
 */
int weft_close(int fd);

/** Nonzero inside a coroutine run by a weft worker. */
int weft_in_coroutine(void);
/** The calling worker's index in its scheduler, or -1 on any other thread. */
int weft_current_worker(void);
/** The running coroutine's id (unique in the process), or 0 outside coroutines. */
uint64_t weft_coroutine_id(void);
/** The library's version, "MAJOR.MINOR.PATCH". */
const char* weft_version(void);

/** Creates an unlocked mutex in `*out`. @return 0 or -ENOMEM. */
int weft_mutex_create(weft_mutex** out);
/** Frees an unlocked mutex without waiters (with waiters: a message and abort). */
void weft_mutex_destroy(weft_mutex* m);
/** Locks `m`, waiting behind earlier waiters. @return 0 */
int weft_mutex_lock(weft_mutex* m);
/** Locks `m` if it is free. @return 0, or -EBUSY when it is held. */
int weft_mutex_trylock(weft_mutex* m);
/** Unlocks `m`, handing it to the oldest waiter. @return 0, or -EPERM when it was not locked. */
int weft_mutex_unlock(weft_mutex* m);

/** Creates a condition variable in `*out`. @return 0 or -ENOMEM. */
int weft_cond_create(weft_cond** out);
/** Frees a condition variable without waiters (with waiters: a message and abort). */
void weft_cond_destroy(weft_cond* c);
/**
 * Unlocks `m` (which the caller holds), waits for a notification, locks `m` again. No
 * spurious wake-ups, but check your predicate in a loop all the same. @return 0
 */
int weft_cond_wait(weft_cond* c, weft_mutex* m);
/**
 * weft_cond_wait() for at most `timeout_ms` (negative: no timeout).
 * @return 0 when notified, -ETIMEDOUT (`m` is held again either way), -EINVAL when the
 *   caller did not hold `m`.
 */
int weft_cond_timedwait(weft_cond* c, weft_mutex* m, int64_t timeout_ms);
/** Wakes the oldest waiter, if any. */
void weft_cond_signal(weft_cond* c);
/** Wakes every waiter. */
void weft_cond_broadcast(weft_cond* c);

/** Creates a wait group with counter 0 in `*out`. @return 0 or -ENOMEM. */
int weft_waitgroup_create(weft_waitgroup** out);
/** Frees a wait group without waiters (with waiters: a message and abort). */
void weft_waitgroup_destroy(weft_waitgroup* wg);
/**
 * Adds `n` (may be negative) to the counter; reaching 0 releases the waiters.
 * @return 0, -EINVAL if it would go below 0, -EOVERFLOW past INT64_MAX (counter unchanged).
 */
int weft_waitgroup_add(weft_waitgroup* wg, int64_t n);
/** weft_waitgroup_add(wg, -1). @return 0 or -EINVAL. */
int weft_waitgroup_done(weft_waitgroup* wg);
/**
 * Waits until the counter is 0, for at most `timeout_ms` (negative: no timeout).
 * @return 0, or -ETIMEDOUT.
 */
int weft_waitgroup_wait(weft_waitgroup* wg, int64_t timeout_ms);

/** Creates a channel buffering `capacity` values (0: rendezvous) in `*out`. @return 0 or -ENOMEM.
 */
int weft_channel_create(size_t capacity, weft_channel** out);
/** Frees a channel without waiters (with waiters: a message and abort). */
void weft_channel_destroy(weft_channel* ch);
/** Sends `value`, waiting for room or a receiver. @return 0, or -EPIPE once closed. */
int weft_channel_send(weft_channel* ch, void* value);
/** Sends without waiting. @return 0, -EAGAIN when full (no receiver waiting), -EPIPE once closed.
 */
int weft_channel_try_send(weft_channel* ch, void* value);
/**
 * Receives into `*value`, waiting for a sender.
 * @return 0, or -EPIPE once the channel is closed and drained.
 */
int weft_channel_recv(weft_channel* ch, void** value);
/** Receives without waiting. @return 0, -EAGAIN when empty, -EPIPE once closed and drained. */
int weft_channel_try_recv(weft_channel* ch, void** value);
/** Closes the channel: blocked senders and, once drained, receivers get -EPIPE. Idempotent. */
void weft_channel_close(weft_channel* ch);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_WEFT_H */
