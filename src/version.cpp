// SPDX-License-Identifier: Apache-2.0
// The library's own version string: compiled into libweft, so a program can tell the
// library it runs with from the headers it was built with.
#include "weft/version.hpp"

namespace weft {

const char* version() noexcept {
  return WEFT_VERSION_STRING;
}

}  // namespace weft
