// SPDX-License-Identifier: Apache-2.0
// The C API (include/weft/weft.h): thin wrappers over the C++ classes. Every entry point
// that can throw runs its body through guarded(), so no exception reaches a C caller:
// each becomes a negative errno value.
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "weft/channel.hpp"
#include "weft/condvar.hpp"
#include "weft/detail/runtime.hpp"
#include "weft/io.hpp"
#include "weft/mutex.hpp"
#include "weft/scheduler.hpp"
#include "weft/this_coroutine.hpp"
#include "weft/time.hpp"
#include "weft/version.hpp"
#include "weft/wait_group.hpp"
#include "weft/weft.h"

struct weft_scheduler {
  explicit weft_scheduler(const weft::Options& o) : sched(o) {}
  weft::Scheduler sched;
  // Its core, to refuse destruction from its own coroutines (~Scheduler would abort).
  weft::detail::Core* core = nullptr;
};
struct weft_task {
  weft::Task<void*> task;
};
struct weft_mutex {
  weft::Mutex m;
};
struct weft_cond {
  weft::CondVar cv;
};
struct weft_waitgroup {
  weft::WaitGroup wg;
};
struct weft_channel {
  explicit weft_channel(std::size_t capacity) : ch(capacity) {}
  weft::Channel<void*> ch;
};

namespace {

// The exception being handled as a negative errno value: a std::system_error of the
// generic or system category keeps its code; the standard exceptions map to their
// nearest errno; anything else (a user's own exception type) is -ECANCELED.
int current_exception_code() noexcept {
  try {
    throw;
  } catch (const std::system_error& e) {
    const std::error_code& c = e.code();
    const bool errno_like =
        c.category() == std::generic_category() || c.category() == std::system_category();
    return errno_like && c.value() > 0 ? -c.value() : -EIO;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (const std::invalid_argument&) {
    return -EINVAL;
  } catch (const std::overflow_error&) {
    return -EOVERFLOW;
  } catch (const std::logic_error&) {
    return -EINVAL;
  } catch (...) {
    return -ECANCELED;
  }
}

template <class F>
int guarded(F&& f) noexcept {
  try {
    return f();
  } catch (...) {
    return current_exception_code();
  }
}

// A C timeout in ms (negative: none) as the C++ Timeout.
weft::Timeout timeout_of(std::int64_t ms) {
  if (ms < 0) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

// A weft_mutex the caller holds, as a BasicLockable the CondVar can release and retake.
struct HeldLock {
  weft::Mutex& m;
  void lock() { m.lock(); }
  void unlock() { m.unlock(); }
};

}  // namespace

extern "C" {

void weft_options_init(weft_options* options) {
  if (!options) return;
  const weft::Options d;
  options->workers = d.workers;
  options->stack_size = d.stack_size;
  options->guard_size = d.guard_size;
  options->pin_workers = d.pin_workers ? 1 : 0;
  options->trace = nullptr;
}

int weft_scheduler_create(const weft_options* options, weft_scheduler** out) {
  if (!out) return -EINVAL;
  return guarded([&] {
    weft::Options o;
    if (options) {
      o.workers = options->workers;
      o.stack_size = options->stack_size;
      o.guard_size = options->guard_size;
      o.pin_workers = options->pin_workers != 0;
      if (options->trace) o.trace = options->trace;
    }
    auto s = std::make_unique<weft_scheduler>(o);
    // One coroutine learns the scheduler's identity (the C++ class keeps it private).
    s->core = s->sched.run([] { return weft::detail::current_core(); });
    *out = s.release();
    return 0;
  });
}

int weft_scheduler_destroy(weft_scheduler* sched) {
  if (!sched) return -EINVAL;
  if (weft::detail::current_core() == sched->core) return -EDEADLK;
  delete sched;  // ~Scheduler waits for the coroutines and joins the workers; noexcept
  return 0;
}

unsigned weft_scheduler_workers(const weft_scheduler* sched) {
  return sched ? sched->sched.workers() : 0;
}

int weft_spawn(weft_scheduler* sched, weft_fn fn, void* arg, weft_task** out) {
  if (!fn) return -EINVAL;
  return guarded([&] {
    auto body = [fn, arg] { return fn(arg); };
    // The handle first: once the coroutine exists, nothing may fail any more.
    std::unique_ptr<weft_task> handle = out ? std::make_unique<weft_task>() : nullptr;
    try {
      weft::Task<void*> t = sched ? sched->sched.spawn(body) : weft::spawn(body);
      if (handle) {
        handle->task = std::move(t);
        *out = handle.release();
      }  // else `t` detaches as it goes out of scope
      return 0;
    } catch (const std::logic_error&) {
      return -ENOTSUP;  // a scheduler created before fork(), or the default one after exit
    }
  });
}

int weft_join(weft_task* task, void** result) {
  if (!task) return -EINVAL;
  try {
    void* r = task->task.join();
    if (result) *result = r;
  } catch (...) {
    const int code = current_exception_code();
    // Refused before waiting (a coroutine joining itself: -EDEADLK): the handle still owns
    // the coroutine. Otherwise the body threw and the coroutine is gone.
    if (!task->task.valid()) delete task;
    return code;
  }
  delete task;
  return 0;
}

int weft_detach(weft_task* task) {
  if (!task) return -EINVAL;
  delete task;  // ~Task detaches
  return 0;
}

int weft_task_done(const weft_task* task) {
  return task && task->task.done() ? 1 : 0;
}

int weft_yield(void) {
  return guarded([] {
    weft::yield();
    return 0;
  });
}

int weft_sleep_ms(std::uint64_t ms) {
  return guarded([&] {
    weft::sleep_for(std::chrono::duration<std::uint64_t, std::milli>(ms));
    return 0;
  });
}

int weft_sleep_us(std::uint64_t us) {
  return guarded([&] {
    weft::sleep_for(std::chrono::duration<std::uint64_t, std::micro>(us));
    return 0;
  });
}

int weft_wait_readable(int fd, std::int64_t timeout_ms) {
  return guarded([&] { return weft::wait_readable(fd, timeout_of(timeout_ms)) ? 0 : -ETIMEDOUT; });
}

int weft_wait_writable(int fd, std::int64_t timeout_ms) {
  return guarded([&] { return weft::wait_writable(fd, timeout_of(timeout_ms)) ? 0 : -ETIMEDOUT; });
}

int weft_close(int fd) {
  return guarded([&] {
    weft::close(fd);
    return 0;
  });
}

int weft_in_coroutine(void) {
  return weft::in_coroutine() ? 1 : 0;
}
int weft_current_worker(void) {
  return weft::current_worker();
}
std::uint64_t weft_coroutine_id(void) {
  return weft::this_coroutine_id();
}
const char* weft_version(void) {
  return weft::version();
}

int weft_mutex_create(weft_mutex** out) {
  if (!out) return -EINVAL;
  *out = new (std::nothrow) weft_mutex;
  return *out ? 0 : -ENOMEM;
}
void weft_mutex_destroy(weft_mutex* m) {
  delete m;
}
int weft_mutex_lock(weft_mutex* m) {
  return guarded([&] {
    m->m.lock();
    return 0;
  });
}
int weft_mutex_trylock(weft_mutex* m) {
  return m->m.try_lock() ? 0 : -EBUSY;
}
int weft_mutex_unlock(weft_mutex* m) {
  try {
    m->m.unlock();
    return 0;
  } catch (const std::logic_error&) {
    return -EPERM;  // it was not locked
  }
}

int weft_cond_create(weft_cond** out) {
  if (!out) return -EINVAL;
  *out = new (std::nothrow) weft_cond;
  return *out ? 0 : -ENOMEM;
}
void weft_cond_destroy(weft_cond* c) {
  delete c;
}
int weft_cond_wait(weft_cond* c, weft_mutex* m) {
  return weft_cond_timedwait(c, m, -1);
}
int weft_cond_timedwait(weft_cond* c, weft_mutex* m, std::int64_t timeout_ms) {
  return guarded([&] {
    HeldLock lock{m->m};
    if (timeout_ms < 0) {
      c->cv.wait(lock);
      return 0;
    }
    return c->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms)) == std::cv_status::timeout
               ? -ETIMEDOUT
               : 0;
  });
}
void weft_cond_signal(weft_cond* c) {
  c->cv.notify_one();
}
void weft_cond_broadcast(weft_cond* c) {
  c->cv.notify_all();
}

int weft_waitgroup_create(weft_waitgroup** out) {
  if (!out) return -EINVAL;
  *out = new (std::nothrow) weft_waitgroup;
  return *out ? 0 : -ENOMEM;
}
void weft_waitgroup_destroy(weft_waitgroup* wg) {
  delete wg;
}
int weft_waitgroup_add(weft_waitgroup* wg, std::int64_t n) {
  return guarded([&] {
    wg->wg.add(n);
    return 0;
  });
}
int weft_waitgroup_done(weft_waitgroup* wg) {
  return weft_waitgroup_add(wg, -1);
}
int weft_waitgroup_wait(weft_waitgroup* wg, std::int64_t timeout_ms) {
  return guarded([&] {
    if (timeout_ms < 0) {
      wg->wg.wait();
      return 0;
    }
    return wg->wg.wait_for(std::chrono::milliseconds(timeout_ms)) ? 0 : -ETIMEDOUT;
  });
}

int weft_channel_create(std::size_t capacity, weft_channel** out) {
  if (!out) return -EINVAL;
  return guarded([&] {
    *out = new weft_channel(capacity);
    return 0;
  });
}
void weft_channel_destroy(weft_channel* ch) {
  delete ch;
}
int weft_channel_send(weft_channel* ch, void* value) {
  return guarded([&] { return ch->ch.send(value) ? 0 : -EPIPE; });
}
int weft_channel_try_send(weft_channel* ch, void* value) {
  return guarded([&] {
    if (ch->ch.try_send(value)) return 0;
    return ch->ch.closed() ? -EPIPE : -EAGAIN;
  });
}
int weft_channel_recv(weft_channel* ch, void** value) {
  return guarded([&] {
    std::optional<void*> v = ch->ch.recv();
    if (!v) return -EPIPE;
    if (value) *value = *v;
    return 0;
  });
}
int weft_channel_try_recv(weft_channel* ch, void** value) {
  return guarded([&] {
    std::optional<void*> v = ch->ch.try_recv();
    if (!v) return ch->ch.closed() ? -EPIPE : -EAGAIN;
    if (value) *value = *v;
    return 0;
  });
}
void weft_channel_close(weft_channel* ch) {
  ch->ch.close();
}

}  // extern "C"
