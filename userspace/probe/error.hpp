// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <stdexcept>
#include <string>

namespace kernspan::probe {

// A problem the user can act on; what() is the one-line message to print.
class ProbeError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace kernspan::probe
