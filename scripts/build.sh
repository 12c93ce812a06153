#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configure and build into ${BUILD_DIR:-build}, warnings as errors. Extra
# arguments go to cmake (e.g. -DKERNSPAN_WERROR=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} -DKERNSPAN_WERROR=ON \
  "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
