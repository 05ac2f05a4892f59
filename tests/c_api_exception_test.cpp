// SPDX-License-Identifier: Apache-2.0
// The C API's promise that no C++ exception crosses it: a C coroutine body (here C++
// functions behind weft_fn pointers, as a C program calling into C++ would have) that
// throws turns into an error code at weft_join, or reaches the unhandled-exception handler
// when detached. The rest of the C API is tested from C in c_api_test.c.
#include <gtest/gtest.h>
#include <weft/weft.h>

#include <atomic>
#include <cerrno>
#include <new>
#include <stdexcept>
#include <system_error>
#include <weft/unhandled.hpp>

namespace {

void* throws_runtime_error(void*) {
  throw std::runtime_error("boom");
}
void* throws_enoent(void*) {
  throw std::system_error(ENOENT, std::generic_category(), "open");
}
void* throws_bad_alloc(void*) {
  throw std::bad_alloc();
}
void* throws_int(void*) {
  throw 42;
}

int join_code(weft_scheduler* s, weft_fn fn) {
  weft_task* t = nullptr;
  EXPECT_EQ(weft_spawn(s, fn, nullptr, &t), 0);
  void* r = &r;
  const int rc = weft_join(t, &r);
  EXPECT_EQ(r, &r) << "the result is left alone on failure";
  return rc;  // and the handle is freed: ASan's leak check would see it otherwise
}

TEST(CApiException, JoinTurnsTheBodysExceptionIntoACode) {
  weft_options o;
  weft_options_init(&o);
  o.workers = 2;
  weft_scheduler* s = nullptr;
  ASSERT_EQ(weft_scheduler_create(&o, &s), 0);
  EXPECT_EQ(join_code(s, throws_runtime_error), -ECANCELED);
  EXPECT_EQ(join_code(s, throws_enoent), -ENOENT);
  EXPECT_EQ(join_code(s, throws_bad_alloc), -ENOMEM);
  EXPECT_EQ(join_code(s, throws_int), -ECANCELED);
  EXPECT_EQ(weft_scheduler_destroy(s), 0);
}

std::atomic<std::uint64_t> g_unhandled_id{0};

void record_unhandled(std::uint64_t id, std::exception_ptr) noexcept {
  g_unhandled_id.store(id, std::memory_order_release);
}

void* report_id_then_throw(void* out) {
  static_cast<std::atomic<std::uint64_t>*>(out)->store(weft_coroutine_id());
  throw std::runtime_error("nobody joins me");
}

TEST(CApiException, DetachedBodysExceptionGoesToTheUnhandledHandler) {
  const weft::UnhandledExceptionHandler previous =
      weft::set_unhandled_exception_handler(&record_unhandled);
  weft_scheduler* s = nullptr;
  ASSERT_EQ(weft_scheduler_create(nullptr, &s), 0);
  std::atomic<std::uint64_t> id{0};
  ASSERT_EQ(weft_spawn(s, report_id_then_throw, &id, nullptr), 0);  // detached at once
  EXPECT_EQ(weft_scheduler_destroy(s), 0);                          // waits for the coroutine
  weft::set_unhandled_exception_handler(previous);
  EXPECT_NE(id.load(), 0u);
  EXPECT_EQ(g_unhandled_id.load(std::memory_order_acquire), id.load());
}

TEST(CApiException, CreateReportsBadOptionsAsEinval) {
  weft_options o;
  weft_options_init(&o);
  o.workers = 1u << 30;
  weft_scheduler* s = nullptr;
  EXPECT_EQ(weft_scheduler_create(&o, &s), -EINVAL);
  EXPECT_EQ(s, nullptr);
}

}  // namespace
