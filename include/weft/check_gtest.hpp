// SPDX-License-Identifier: Apache-2.0
// weft::check in a GoogleTest body, one line:
//
//   EXPECT_TRUE(weft::check::passes([] { ... }, {.policy = weft::check::Policy::kPct}));
//
// On failure the assertion's message is explore()'s whole report, replay line included.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <utility>

#include "weft/check.hpp"

namespace weft::check {

/// explore(fn, options) as a GoogleTest assertion: success, or a failure carrying the report
/// and its replay line (the report is not printed twice).
inline ::testing::AssertionResult passes(std::function<void()> fn, Options options = {}) {
  options.print = false;
  const Result r = explore(std::move(fn), options);
  if (r.ok) return ::testing::AssertionSuccess() << r.iterations << " schedules passed";
  return ::testing::AssertionFailure() << "\n" << r.report;
}

}  // namespace weft::check
