// SPDX-License-Identifier: Apache-2.0
// A fixture for scripts/check_layers.sh: the core model including the
// collector, which the check must refuse.
#pragma once

#include "collect/collector.hpp"
