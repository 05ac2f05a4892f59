// SPDX-License-Identifier: Apache-2.0
// Execution contexts: the one switch function every transfer of control goes through,
// with its sanitizer announcements. The architecture-specific parts (the first frame of a
// fresh stack, the FP control state) are in arch.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch.hpp"
#include "sanitizers.hpp"

namespace weft::detail {

// The Itanium C++ ABI's per-thread exception globals (__cxa_eh_globals): the stack of
// caught exceptions and the count of uncaught ones. Each context keeps its own copy while
// switched out; swap_exception_state() trades them at every switch.
struct ExceptionState {
  void* caught = nullptr;
  unsigned uncaught = 0;
};
// The calling thread's globals; never inlined (the ABI declares __cxa_get_globals const,
// and a cached result would name the previous thread's after a coroutine migrates).
ExceptionState* thread_exception_state() noexcept;

// `g` is the calling thread's thread_exception_state() (a worker caches its own).
inline void swap_exception_state(ExceptionState* g, void*& save_caught, unsigned& save_uncaught,
                                 void* load_caught, unsigned load_uncaught) noexcept {
  save_caught = g->caught;
  save_uncaught = g->uncaught;
  g->caught = load_caught;
  g->uncaught = load_uncaught;
}

// What a switch needs to know of its target.
struct SwitchTarget {
  void* sp;
  void* tsan_fiber;
  const void* stack_lo;
  std::size_t stack_size;
};

// The only place control moves between stacks. Always inlined into its caller so that
// no instrumented function frame straddles the switch: TSan's function-exit hook for a
// helper would otherwise run on the wrong fiber (Tencent/flare#134). `fake_stack_save`
// is where ASan keeps the leaving context's fake stack; nullptr when the leaving context
// is finished for good and its fake stack may be freed (never for one that runs again).
// `to` is taken by value and read into scalars before the ASan call: with a null save,
// that call frees the leaving context's fake stack, where address-taken locals live.
// For the same reason `transfer` must not point into a finishing context's frame.
[[gnu::always_inline]] inline void* switch_context(void** save_sp, void** fake_stack_save,
                                                   SwitchTarget to, void* transfer) noexcept {
  void* const target_sp = to.sp;
#if WEFT_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, to.stack_lo, to.stack_size);
#else
  (void)fake_stack_save;
#endif
#if WEFT_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  void* got = weft_switch(save_sp, target_sp, transfer);
#if WEFT_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_save ? *fake_stack_save : nullptr, nullptr, nullptr);
#endif
  return got;
}

// First thing a fresh context does, before anything that touches its stack frames.
[[gnu::always_inline]] inline void enter_fresh_context() noexcept {
#if WEFT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

}  // namespace weft::detail
