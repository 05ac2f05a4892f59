// SPDX-License-Identifier: Apache-2.0
// CLI11 glue shared by the weft-* tools: parse, and exit the way every tool does (0 for
// --help, 2 for bad flags, with CLI11's message and usage).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

namespace weft_tools {

// Parses argv into `app`'s options; returns the exit code when the tool should stop now.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
}

}  // namespace weft_tools
