// SPDX-License-Identifier: Apache-2.0
// weft::check finds each bug of the catalogue (tests/check_bugs.hpp) within 1,000
// iterations with the policy the catalogue names, and the printed replay line reproduces
// it exactly: the same failure, the same schedule hash.
#include <gtest/gtest.h>

#include "check_bugs.hpp"
#include "weft/check.hpp"

namespace {

using weft::check::Options;
using weft::check::Result;

class Catalogue : public ::testing::TestWithParam<weft_bugs::Bug> {};

TEST_P(Catalogue, FoundWithinAThousandIterationsAndReplayed) {
  const weft_bugs::Bug& bug = GetParam();
  Options o;
  o.policy = bug.policy;
  o.iterations = 1000;
  o.seed = 1;
  o.print = false;
  const Result found = weft::check::explore(bug.body, o);
  ASSERT_FALSE(found.ok) << bug.name << ": not found in " << found.iterations << " iterations";
  EXPECT_EQ(found.kind, bug.kind) << found.report;
  EXPECT_LE(found.iterations, 1000u);
  ASSERT_FALSE(found.replay.empty());
  EXPECT_NE(found.report.find("WEFT_CHECK_REPLAY=" + found.replay), std::string::npos)
      << found.report;

  // The replay line runs exactly that iteration again.
  Options again;
  again.replay = found.replay;
  again.print = false;
  const Result replayed = weft::check::explore(bug.body, again);
  EXPECT_FALSE(replayed.ok);
  EXPECT_EQ(replayed.iterations, 1u);
  EXPECT_EQ(replayed.kind, found.kind);
  EXPECT_EQ(replayed.failed_iteration, found.failed_iteration);
  EXPECT_EQ(replayed.schedule_hash, found.schedule_hash) << found.report << replayed.report;
  EXPECT_EQ(replayed.schedule, found.schedule);

  // So does the recorded schedule.
  Options recorded;
  recorded.policy = weft::check::Policy::kReplay;
  recorded.schedule = found.schedule;
  recorded.print = false;
  const Result from_schedule = weft::check::explore(bug.body, recorded);
  EXPECT_FALSE(from_schedule.ok);
  EXPECT_EQ(from_schedule.kind, found.kind);
  EXPECT_EQ(from_schedule.schedule_hash, found.schedule_hash);
}

INSTANTIATE_TEST_SUITE_P(Bugs, Catalogue, ::testing::ValuesIn(weft_bugs::catalogue()),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
