// SPDX-License-Identifier: Apache-2.0
// weft/version.hpp and weft::version(): the library linked reports the version the headers
// were generated with, and the macros agree with each other.
#include <gtest/gtest.h>
#include <weft/weft.h>

#include <string>
#include <weft/version.hpp>

namespace {

TEST(Version, LibraryMatchesHeaders) {
  EXPECT_EQ(std::string(weft::version()), WEFT_VERSION_STRING);
  EXPECT_EQ(std::string(weft_version()), WEFT_VERSION_STRING);  // the C API's too
}

TEST(Version, MacrosAgree) {
  const std::string parts = std::to_string(WEFT_VERSION_MAJOR) + "." +
                            std::to_string(WEFT_VERSION_MINOR) + "." +
                            std::to_string(WEFT_VERSION_PATCH);
  EXPECT_EQ(parts, WEFT_VERSION_STRING);
  EXPECT_EQ(WEFT_VERSION,
            WEFT_VERSION_MAJOR * 10000 + WEFT_VERSION_MINOR * 100 + WEFT_VERSION_PATCH);
  static_assert(WEFT_VERSION_MINOR < 100 && WEFT_VERSION_PATCH < 100,
                "WEFT_VERSION packs minor and patch in two digits each");
}

}  // namespace
