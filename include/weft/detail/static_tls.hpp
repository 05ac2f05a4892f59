// SPDX-License-Identifier: Apache-2.0
// WEFT_DETAIL_LOAD_STATIC_TLS: reads one of libweft's static-TLS variables with no call
// and no cached thread pointer. Not public API.
//
// A plain thread_local access will not do in code that may straddle a context switch:
// compilers treat the thread pointer (%fs, TPIDR_EL0) as constant within a function and
// may keep a variable's address across a call, after which the coroutine may run on
// another thread (docs/DESIGN.md, "Thread identity: coroutines migrate"). So the read is
// one volatile asm in the initial-exec model: the GOT slot holds the variable's offset
// from the thread pointer, fixed at load time (the linker turns it into a constant in an
// executable), and a load through the thread pointer reads this thread's copy. Volatile:
// no read is merged with another. The variable must have C linkage (the asm names it),
// be initial-exec and constant-initialized (so it reads its initial value even during
// another library's static initialization).
//
// `...` is the asm's clobber list: "memory" where a read must also stay on its side of
// every call and memory access (current_worker()); empty where the caller only needs a
// fresh read (running_forks(), on the fork path).
#pragma once

#include <cstdint>

// clang-format off
#if defined(__x86_64__)
#define WEFT_DETAIL_LOAD_STATIC_TLS(out, symbol, ...)             \
  asm volatile("movq " #symbol "@gottpoff(%%rip), %0\n\t"         \
               "movq %%fs:(%0), %0"                               \
               : "=r"(out) : : __VA_ARGS__)
#elif defined(__aarch64__)
#define WEFT_DETAIL_LOAD_STATIC_TLS(out, symbol, ...)             \
  do {                                                            \
    std::uintptr_t weft_thread_pointer_;                          \
    asm volatile("adrp %0, :gottprel:" #symbol "\n\t"             \
                 "ldr %0, [%0, #:gottprel_lo12:" #symbol "]\n\t"  \
                 "mrs %1, tpidr_el0\n\t"                          \
                 "ldr %0, [%1, %0]"                               \
                 : "=&r"(out), "=&r"(weft_thread_pointer_)        \
                 : : __VA_ARGS__);                                \
  } while (0)
#else
#error "weft: no initial-exec TLS read for this architecture"
#endif
// clang-format on
