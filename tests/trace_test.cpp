// SPDX-License-Identifier: Apache-2.0
// Tracing: Options::trace and WEFT_TRACE write a Chrome Trace Event file when the
// scheduler ends, with one track per worker holding its coroutine runs, parks and steals;
// a bad path is a clear error (Options) or a warning (environment).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

using weft_test::Watchdog;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weft_trace_XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  bool ok() const { return !path_.empty(); }

 private:
  std::string path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The writer emits one event object per line between "[" and "]": check the framing and
// that braces and quotes balance, which a truncated or garbled file would not.
void expect_well_formed(const std::string& text) {
  ASSERT_EQ(text.rfind("{\"displayTimeUnit\":\"ns\"", 0), 0u) << text.substr(0, 80);
  ASSERT_GE(text.size(), 4u);
  EXPECT_EQ(text.substr(text.size() - 4), "\n]}\n");
  long depth = 0;
  std::size_t quotes = 0;
  for (char ch : text) {
    depth += ch == '{' ? 1 : ch == '}' ? -1 : 0;
    quotes += ch == '"';
    ASSERT_GE(depth, 0);
  }
  EXPECT_EQ(depth, 0);
  EXPECT_EQ(quotes % 2, 0u);
}

TEST(Trace, OptionsTraceWritesOneTrackPerWorkerWithRunsParksAndSteals) {
  Watchdog dog("OptionsTraceWritesOneTrackPerWorkerWithRunsParksAndSteals");
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("fib.json");
  std::uint64_t steals = 0, yielder = 0;
  {
    weft::Scheduler sched({.workers = 2, .trace = path});
    EXPECT_GT(weft_test::run_with_a_steal(sched, 50, 50), 0);
    // A coroutine that switches out and back: its id shows up on a run slice.
    auto t = sched.spawn([] {
      weft::yield();
      weft::sleep_for(std::chrono::microseconds(100));
    });
    yielder = t.id();
    t.join();
    steals = sched.stats().steals;
  }
  const std::string text = slurp(path);
  expect_well_formed(text);
  EXPECT_NE(text.find("\"otherData\":{\"weft_workers\":2,\"dropped_events\":0}"),
            std::string::npos);
  EXPECT_NE(text.find("\"tid\":0,\"args\":{\"name\":\"worker 0\"}"), std::string::npos);
  EXPECT_NE(text.find("\"tid\":1,\"args\":{\"name\":\"worker 1\"}"), std::string::npos);
  EXPECT_GT(count(text, "{\"name\":\"run\""), 0u);
  EXPECT_GT(count(text, "{\"name\":\"park\""), 0u);
  EXPECT_NE(text.find("\"args\":{\"id\":" + std::to_string(yielder) + "}"), std::string::npos);
  // Every counted steal is on the timeline.
  EXPECT_GT(steals, 0u);
  EXPECT_EQ(count(text, "{\"name\":\"steal\""), steals);
}

TEST(Trace, UnwritableOptionsPathThrowsNamingIt) {
  const std::string bad = "/nonexistent-dir-for-weft/trace.json";
  try {
    weft::Scheduler sched({.workers = 1, .trace = bad});
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(bad), std::string::npos) << what;
    EXPECT_NE(what.find("Options::trace"), std::string::npos) << what;
  }
}

TEST(Trace, EnvironmentVariableTracesEverySchedulerToItsOwnFile) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_EQ(setenv("WEFT_TRACE", dir.file("run.json").c_str(), 1), 0);
  for (int i = 0; i < 3; ++i) {
    weft::Scheduler sched({.workers = 1});
    EXPECT_EQ(sched.run([i] { return i; }), i);
  }
  unsetenv("WEFT_TRACE");
  for (const char* name : {"run.json", "run.1.json", "run.2.json"}) {
    const std::string text = slurp(dir.file(name));
    SCOPED_TRACE(name);
    expect_well_formed(text);
    EXPECT_GT(count(text, "{\"name\":\"run\""), 0u);
  }
}

TEST(Trace, UnwritableEnvironmentPathWarnsAndRunsUntraced) {
  ASSERT_EQ(setenv("WEFT_TRACE", "/nonexistent-dir-for-weft/trace.json", 1), 0);
  testing::internal::CaptureStderr();
  {
    weft::Scheduler sched({.workers = 1});
    EXPECT_EQ(sched.run([] { return 7; }), 7);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  unsetenv("WEFT_TRACE");
  EXPECT_NE(err.find("WEFT_TRACE"), std::string::npos) << err;
  EXPECT_NE(err.find("tracing is off"), std::string::npos) << err;
}

}  // namespace
