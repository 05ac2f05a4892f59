// SPDX-License-Identifier: Apache-2.0
// The runtime entry points behind the public templates and free functions.
#include <cxxabi.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <system_error>
#include <thread>
#include <typeinfo>

#include "core.hpp"
#include "futex.hpp"
#include "weft/detail/runtime.hpp"
#include "weft/this_coroutine.hpp"
#include "weft/unhandled.hpp"
#include "worker.hpp"

namespace weft::detail {

Core* current_core() noexcept {
  Worker* w = current_worker();
  return w ? &w->core() : nullptr;
}

Coroutine* allocate(Core* core) {
  Worker* w = current_worker();
  Coroutine* c = w ? w->records().get() : new_record();
  reset_record(c);
  c->core = core;
  return c;
}

void discard(Coroutine* c) noexcept {
  Worker* w = current_worker();
  if (w) {
    w->records().put(c);
  } else {
    delete_record(c);
  }
}

void submit(Coroutine* c) {
  Worker* w = current_worker();
  if (w && &w->core() == c->core) {
    c->id = w->next_id();
    c->active_id = c->id;
    c->refs.store(2, std::memory_order_relaxed);  // the Task handle and the queue entry
    c->state.store(kFresh, std::memory_order_relaxed);
    w->count_spawn();
    w->push_local(c);  // the deque's release store of bottom publishes the record
  } else {
    c->core->submit_external(c);
  }
}

void wait(Coroutine* c) {
  if (c->join_word.load(std::memory_order_acquire) == kJoinDone) return;
  refuse_if_forked_away(c->core);  // in a fork()ed child it would never finish
  Worker* w = current_worker();
  if (w && w->current()) {
    // Its own Task, on its own stack or run inline on its joiner's (active_id): it would
    // wait for itself forever, and ~Scheduler with it.
    if (c == w->current() || c->id == w->current()->active_id) {
      throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                              "weft::Task::join: a coroutine cannot join itself");
    }
    w->wait_current(c);
    return;
  }
  ThreadWaiter waiter;
  std::uintptr_t expected = 0;
  if (c->join_word.compare_exchange_strong(
          expected, reinterpret_cast<std::uintptr_t>(&waiter) | kThreadWaiterTag,
          std::memory_order_acq_rel, std::memory_order_acquire)) {
    waiter.wait();
  }
}

void release(Coroutine* c) noexcept {
  // The handle's half of the payload protocol (coroutine.hpp, kPayloadHandleGone):
  // acq_rel, so whichever side comes second sees the other's writes to the payload.
  if (c->payload_word.fetch_or(kPayloadHandleGone, std::memory_order_acq_rel) & kPayloadFinished) {
    c->destroy(c);
  }
  unref(c);
}

void release_joined(Coroutine* c) noexcept {
  // The join's acquire (join_word == kJoinDone) ordered the coroutine's whole run, and
  // the payload has no other user left.
  c->destroy(c);
  unref(c);
}

namespace {
std::atomic<UnhandledExceptionHandler> g_unhandled{&default_unhandled_exception_handler};
}  // namespace

void unhandled_exception(std::uint64_t id, std::exception_ptr e) noexcept {
  g_unhandled.load(std::memory_order_acquire)(id, std::move(e));
}

void yield_to(Coroutine* c) {
  if (!c) throw std::logic_error("weft::yield_to: no coroutine (joined, detached or moved from)");
  Worker* w = current_worker();
  if (!w || !w->current()) {
    std::this_thread::yield();
    return;
  }
  w->yield_to_current(c);
}

}  // namespace weft::detail

namespace weft {

void default_unhandled_exception_handler(std::uint64_t id, std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    // typeid's name is mangled ("St13runtime_error"); print it as the user wrote it.
    int status = 0;
    char* demangled = abi::__cxa_demangle(typeid(ex).name(), nullptr, nullptr, &status);
    std::fprintf(stderr, "weft: coroutine %llu was detached and threw %s: %s\n",
                 static_cast<unsigned long long>(id), status == 0 ? demangled : typeid(ex).name(),
                 ex.what());
    std::free(demangled);
  } catch (...) {
    std::fprintf(stderr, "weft: coroutine %llu was detached and threw a non-std exception\n",
                 static_cast<unsigned long long>(id));
  }
  std::terminate();
}

UnhandledExceptionHandler set_unhandled_exception_handler(
    UnhandledExceptionHandler handler) noexcept {
  return detail::g_unhandled.exchange(handler ? handler : &default_unhandled_exception_handler,
                                      std::memory_order_acq_rel);
}

void yield() {
  detail::Worker* w = detail::current_worker();
  if (!w || !w->current()) {
    std::this_thread::yield();
    return;
  }
  w->yield_current();
}

bool in_coroutine() noexcept {
  detail::Worker* w = detail::current_worker();
  return w && w->current();
}

int current_worker() noexcept {
  detail::Worker* w = detail::current_worker();
  return w ? static_cast<int>(w->index()) : -1;
}

std::uint64_t this_coroutine_id() noexcept {
  detail::Worker* w = detail::current_worker();
  return w && w->current() ? w->current()->active_id : 0;
}

}  // namespace weft
