// SPDX-License-Identifier: Apache-2.0
// weft::spawn while the program exits: the default scheduler outlives every static, so
// a static destructor that spawns after the default scheduler has shut down gets the
// documented std::logic_error, never a use after free.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "test_util.hpp"
#include "weft/weft.hpp"

namespace {

void say(const char* s) {
  [[maybe_unused]] const ssize_t n = write(2, s, std::strlen(s));
}

// Constructed before the default scheduler, so destroyed after its exit handler ran.
struct SpawnsWhenDestroyed {
  ~SpawnsWhenDestroyed() {
    try {
      weft::spawn([] { return 1; }).join();
      say("spawn at exit was accepted\n");
      std::_Exit(1);
    } catch (const std::logic_error& e) {
      say("spawn at exit: ");
      say(e.what());
      say("\n");
    }
  }
};

// Constructed after the default scheduler, so destroyed before it shuts down: its spawn
// still runs.
struct SpawnsBeforeShutdown {
  ~SpawnsBeforeShutdown() {
    if (weft::spawn([] { return 2; }).join() != 2) std::_Exit(2);
    say("spawn before shutdown ran\n");
  }
};

void exit_with_spawning_statics() {
  static SpawnsWhenDestroyed early;
  if (weft::spawn([] { return 3; }).join() != 3) std::_Exit(3);  // creates the default scheduler
  static SpawnsBeforeShutdown late;
  std::exit(0);
}

TEST(ExitDeathTest, SpawnFromAStaticDestructorAfterShutdownIsRefused) {
  weft_test::use_death_test_child_process();
  EXPECT_EXIT(exit_with_spawning_statics(), testing::ExitedWithCode(0),
              "spawn before shutdown ran.*spawn at exit: weft: spawn refused: the "
              "scheduler is shutting down");
}

}  // namespace
