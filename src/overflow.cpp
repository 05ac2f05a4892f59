// SPDX-License-Identifier: Apache-2.0
#include "overflow.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "arch.hpp"
#include "stack.hpp"
#include "worker.hpp"

namespace weft::detail {
namespace {

struct sigaction g_previous;  // written once, before our handler can run

// Async-signal-safe output: no stdio, no allocation.
void put(const char* s) noexcept {
  std::size_t n = 0;
  while (s[n]) ++n;
  [[maybe_unused]] ssize_t r = write(STDERR_FILENO, s, n);
}
void put_number(std::uint64_t v, unsigned base = 10) noexcept {
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = '\0';
  do {
    *--p = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  if (base == 16) put("0x");
  put(p);
}

void chain(int sig, siginfo_t* info, void* context) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) {
      g_previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction faults again.
  signal(sig, SIG_DFL);
}

void on_segv(int sig, siginfo_t* info, void* context) {
  Worker* w = current_worker();
  Coroutine* c = w ? w->current() : nullptr;
  const Stack* s = c ? c->stack : nullptr;
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  const auto lo = s ? reinterpret_cast<std::uintptr_t>(s->lo) : 0;
  const std::uintptr_t sp = signal_sp(context);
  const auto in_guard = [&](std::uintptr_t a) { return a < lo && a >= lo - s->guard; };
  // Only plain reads of the faulting coroutine's Stack: no sysconf() (not
  // async-signal-safe); the guard's extent was recorded when the stack was mapped. The
  // stack pointer counts too: a prologue that moved sp into the guard and then stored
  // below it (a frame larger than the guard) is an overflow wherever that store landed.
  if (s && s->guarded && (in_guard(addr) || in_guard(sp))) {
    put("weft: coroutine ");
    put_number(c->active_id);
    put(" overflowed its ");
    put_number(s->size);
    put("-byte stack (fault at ");
    put_number(addr, 16);
    put(", sp ");
    put_number(sp, 16);
    put(", guard below ");
    put_number(lo, 16);
    put("); raise weft::Options::stack_size\n");
    signal(SIGABRT, SIG_DFL);
    abort();
  }
  chain(sig, info, context);
}

}  // namespace

void install_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_segv;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, &g_previous);
  });
}

AltSignalStack::AltSignalStack() {
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // has one
  size_ = 64 * 1024;
  mem_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem_ == MAP_FAILED) {
    mem_ = nullptr;
    return;  // no diagnostics on this thread, nothing worse
  }
  stack_t ss{};
  ss.ss_sp = mem_;
  ss.ss_size = size_;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(mem_, size_);
    mem_ = nullptr;
  }
}

AltSignalStack::~AltSignalStack() {
  if (!mem_) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(mem_, size_);
}

}  // namespace weft::detail
