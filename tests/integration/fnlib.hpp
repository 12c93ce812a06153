// SPDX-License-Identifier: Apache-2.0
#pragma once

extern "C" long fnlib_square(long x);
