// SPDX-License-Identifier: Apache-2.0
// Which sanitizers this translation unit is built with, from the compilers' own signals
// (so a user who adds -fsanitize=thread to their CMAKE_CXX_FLAGS gets an annotated weft),
// and the fiber APIs they need told about every stack switch.
#pragma once

#include <atomic>
#include <cstddef>

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif

#ifndef WEFT_TSAN
#define WEFT_TSAN 0
#endif
#ifndef WEFT_ASAN
#define WEFT_ASAN 0
#endif

#if WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if WEFT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace weft::detail {

// Memory handed to a new stack user must not carry poison left by an earlier one
// (frames that never returned leave their redzones poisoned).
inline void unpoison_stack(void* lo, std::size_t size) noexcept {
#if WEFT_ASAN
  ASAN_UNPOISON_MEMORY_REGION(lo, size);
#else
  (void)lo;
  (void)size;
#endif
}

inline void* tsan_current_fiber() noexcept {
#if WEFT_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void* tsan_create_fiber() noexcept {
#if WEFT_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void tsan_destroy_fiber(void* f) noexcept {
#if WEFT_TSAN
  if (f) __tsan_destroy_fiber(f);
#else
  (void)f;
#endif
}

}  // namespace weft::detail
