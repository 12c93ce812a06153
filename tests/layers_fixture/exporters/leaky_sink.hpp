// SPDX-License-Identifier: Apache-2.0
// A fixture for scripts/check_layers.sh: an exporter that reaches into
// libbpf, which the check must refuse (ctest Layers.CheckRefusesTheFixtures).
#pragma once

#include <bpf/libbpf.h>
