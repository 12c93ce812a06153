// SPDX-License-Identifier: Apache-2.0
// libbpf's messages on spdlog: warnings and info as such, debug only with -v,
// nothing while a load that may fail by design runs.
#pragma once

namespace kernspan::collect {

// Route libbpf's output to spdlog; `verbose` shows its debug lines.
void install_libbpf_log(bool verbose);
[[nodiscard]] bool libbpf_verbose();
// Silence libbpf (true) until called again with false.
void set_libbpf_quiet(bool quiet);

} // namespace kernspan::collect
