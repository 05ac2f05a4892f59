// SPDX-License-Identifier: Apache-2.0
// The architecture seam: everything weft needs that differs between x86-64 and AArch64,
// and nothing else. The context switchers themselves are asm/switch_<arch>.S; this header
// holds their C++ side (the floating-point control state a context keeps, the first
// frame of a fresh stack), the spin-wait hint, the full barrier, the stack pointer of a
// signal context and the page size. Code outside it names no register and no instruction,
// but for the thread-pointer reads of include/weft/detail/static_tls.hpp.
//
// The thread pointer (%fs on x86-64, TPIDR_EL0 on AArch64) comes with a rule: compilers
// treat it as constant within a function and hoist its read across calls, but a
// coroutine may resume on another thread after any switch. So every thread_local read
// that may straddle a switch is either static_tls.hpp's volatile asm (current_worker(),
// running_forks()) or a [[gnu::noinline]] accessor that is impure to the optimizer
// (thread_exception_state(), thread_errno()).
#pragma once

#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cfenv>
#include <cstddef>
#include <cstdint>

#include "sanitizers.hpp"

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "weft supports x86-64 and AArch64 only"
#endif

extern "C" {
// asm/switch_x86_64.S or asm/switch_aarch64.S
void* weft_switch(void** save_sp, void* target_sp, void* transfer);
void weft_trampoline();
#if defined(__aarch64__)
void* weft_pac_sign(void* return_address, void* sp);
#endif
}

namespace weft::detail {

// Entry of a fresh context; receives the first switch's `transfer`. Must never return.
using EntryFn = void (*)(void* transfer);

// One iteration's worth of "I am spinning" for the core: lets the sibling hyperthread
// run (x86 PAUSE) or hints the core to yield issue slots (AArch64 YIELD).
inline void cpu_relax() noexcept {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#else
  asm volatile("yield");
#endif
}

// A full (StoreLoad) barrier. g++ warns about stand-alone fences under
// -fsanitize=thread, which does not model them, so TSan builds get the hardware barrier
// in asm instead (x86-64 MFENCE, AArch64 DMB ISH), which keeps the generated code's
// ordering. TSan does not see it as one: it cannot check a protocol that relies on this
// fence; it still checks that the accesses around it are atomic.
inline void full_fence() noexcept {
#if !WEFT_TSAN
  std::atomic_thread_fence(std::memory_order_seq_cst);
#elif defined(__x86_64__)
  asm volatile("mfence" ::: "memory");
#else
  asm volatile("dmb ish" ::: "memory");
#endif
}

// After a seq_cst read-modify-write, the StoreLoad barrier that orders it before later
// loads that are not seq_cst themselves (acquire or relaxed: oneTBB's queue, for one).
// The C++ model gives a seq_cst RMW no such ordering against those loads, so portable
// code needs a seq_cst fence here (the fence rule of [atomics.order]: a store before a
// fence on one side and a load after a fence on the other are ordered when the fences
// are). x86-64 compilers emit every seq_cst RMW as a LOCK-prefixed instruction, already a
// full barrier, so the fence would be a second one for nothing: only there is it
// omitted. On AArch64 the RMW (LDAXR/STLXR, or an LSE atomic) is ordered before later
// LDARs but not before a later plain LDR, which may read before the store is visible:
// the DMB is required. (Linux's smp_mb__after_atomic() is the same idea.)
inline void fence_after_rmw() noexcept {
#if !defined(__x86_64__)
  full_fence();
#endif
}

// The process's page size, read once: 64 KiB-page AArch64 kernels exist, so nothing may
// assume 4096. Not async-signal-safe on its first call (sysconf).
inline std::size_t page_size() noexcept {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// The interrupted stack pointer of a signal handler's context (its third argument).
inline std::uintptr_t signal_sp(const void* ucontext) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
#else
  return static_cast<std::uintptr_t>(uc->uc_mcontext.sp);
#endif
}

#if defined(__x86_64__)

// The FP control state the switcher keeps per context, and the value a fresh context
// starts with (MXCSR 0x1F80: all exceptions masked, round to nearest; x87 CW 0x037F:
// the same, 64-bit precision).
struct FpControl {
  std::uint32_t mxcsr;
  std::uint16_t x87_cw;
  bool operator==(const FpControl&) const = default;
};
inline constexpr FpControl kDefaultFpControl{0x1F80, 0x037F};

inline FpControl read_fp_control() noexcept {
  FpControl f;
  asm volatile("stmxcsr %0" : "=m"(f.mxcsr));
  asm volatile("fnstcw %0" : "=m"(f.x87_cw));
  return f;
}
inline void write_fp_control(const FpControl& f) noexcept {
  asm volatile("ldmxcsr %0" ::"m"(f.mxcsr));
  asm volatile("fldcw %0" ::"m"(f.x87_cw));
}

// Whether every FP unit the state controls rounds as `fe_mode` (FE_TONEAREST...). glibc's
// FE_* values are the x87 RC field (bits 10-11); MXCSR keeps it 3 bits higher.
inline bool rounds_as(const FpControl& f, int fe_mode) noexcept {
  const auto mode = static_cast<std::uint32_t>(fe_mode);
  return ((f.mxcsr >> 3) & 0x0C00u) == mode && (f.x87_cw & 0x0C00u) == mode;
}

// Lays out, just below `stack_top` (16-byte aligned), the frame weft_switch pops:
// kDefaultFpControl, zeroed callee-saved registers, r12 = entry, and weft_trampoline as
// the return address. rsp after weft_switch's jump is stack_top, which keeps the
// trampoline's call ABI-aligned.
inline void* make_context(void* stack_top, EntryFn entry) noexcept {
  auto* frame = static_cast<std::uint64_t*>(stack_top) - 8;
  frame[0] =
      std::uint64_t{kDefaultFpControl.mxcsr} | (std::uint64_t{kDefaultFpControl.x87_cw} << 32);
  frame[1] = 0;                                        // r15
  frame[2] = 0;                                        // r14
  frame[3] = 0;                                        // r13
  frame[4] = reinterpret_cast<std::uintptr_t>(entry);  // r12
  frame[5] = 0;                                        // rbx
  frame[6] = 0;                                        // rbp
  frame[7] = reinterpret_cast<std::uintptr_t>(&weft_trampoline);
  return frame;
}

#else  // __aarch64__

// The FP control state the switcher keeps per context: FPCR (rounding mode, flush-to-zero,
// default NaN, trap enables). A fresh context starts with Linux's process default, 0:
// round to nearest, no flush-to-zero, no traps.
struct FpControl {
  std::uint64_t fpcr;
  bool operator==(const FpControl&) const = default;
};
inline constexpr FpControl kDefaultFpControl{0};

inline FpControl read_fp_control() noexcept {
  FpControl f;
  asm volatile("mrs %0, fpcr" : "=r"(f.fpcr));
  return f;
}
inline void write_fp_control(const FpControl& f) noexcept {
  asm volatile("msr fpcr, %0" ::"r"(f.fpcr));
}

// Whether the state rounds as `fe_mode`: glibc's FE_* values are FPCR's RMode field
// (bits 22-23) in place.
inline bool rounds_as(const FpControl& f, int fe_mode) noexcept {
  return (f.fpcr & 0x00C00000u) == static_cast<std::uint64_t>(fe_mode);
}

// Lays out, just below `stack_top` (16-byte aligned), the 176-byte frame weft_switch
// reloads (see asm/switch_aarch64.S): zeroed d8-d15 and x20-x28, x19 = entry, FPCR =
// kDefaultFpControl, x29 = 0, x30 = weft_trampoline signed for sp = stack_top (which is
// the sp weft_switch authenticates it with, after popping the frame).
inline void* make_context(void* stack_top, EntryFn entry) noexcept {
  auto* frame = static_cast<std::uint64_t*>(stack_top) - 22;
  for (int i = 0; i < 22; ++i) frame[i] = 0;           // d8-d15, x20-x28, pad, x29
  frame[8] = reinterpret_cast<std::uintptr_t>(entry);  // x19
  frame[18] = kDefaultFpControl.fpcr;
  frame[21] = reinterpret_cast<std::uintptr_t>(
      weft_pac_sign(reinterpret_cast<void*>(&weft_trampoline), stack_top));  // x30
  return frame;
}

#endif

}  // namespace weft::detail
