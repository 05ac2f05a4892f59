// SPDX-License-Identifier: Apache-2.0
// Counts in the tools' messages: "1 worker", "2 workers", never "1 workers".
#pragma once

#include <cstdint>
#include <string>

namespace weft_tools {

// "N noun" with an "s" unless N is 1 (the tools' nouns all take a plain "s").
inline std::string plural(std::uint64_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace weft_tools
