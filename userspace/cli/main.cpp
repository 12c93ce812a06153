// SPDX-License-Identifier: Apache-2.0
#include "cli/commands.hpp"
#include "collect/collector.hpp"
#include "probe/error.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace kernspan::cli {
void print_error(const std::string &msg) {
  std::fprintf(stderr, "kernspan: error: %s\n", msg.c_str());
}
} // namespace kernspan::cli

namespace {

int run(int argc, char **argv) {
  using namespace kernspan;
  auto logger = spdlog::stderr_color_mt("kernspan");
  logger->set_pattern("kernspan: %^%l%$: %v");
  spdlog::set_default_logger(logger);

  CLI::App app{"kernspan: what each span of a running program's work costs, seen from the kernel"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       "kernspan " KERNSPAN_VERSION " (commit " KERNSPAN_GIT_COMMIT ")",
                       "print the version and the git commit it was built from");
  cli::Globals globals;
  app.add_flag("-v,--verbose", globals.verbose, "log more, including libbpf's debug output");
  app.fallthrough();
  const std::vector<cli::Runner> runners = {cli::add_trace(app),        cli::add_list(app),
                                            cli::add_top(app),          cli::add_serve(app),
                                            cli::add_check_config(app), cli::add_syscalls(app)};
  // CLI11 would only say "A subcommand is required": name the culprit.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string names;
    for (const auto *sub : app.get_subcommands({})) {
      known = known || sub->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      cli::print_error(std::string("unknown command '") + argv[1] + "': use one of " + names +
                       " (see kernspan --help)");
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    cli::print_error(std::string(e.what()) + " (see kernspan --help)");
    return 2;
  }
  if (globals.verbose) {
    spdlog::set_level(spdlog::level::debug);
  }
  const auto all = app.get_subcommands({});
  try {
    for (size_t i = 0; i < all.size() && i < runners.size(); i++) {
      if (all[i]->parsed()) {
        return runners[i](globals);
      }
    }
  } catch (const probe::ProbeError &e) {
    cli::print_error(e.what());
    return 1;
  } catch (const collect::CollectError &e) {
    cli::print_error(e.what());
    return 1;
  } catch (const std::exception &e) {
    cli::print_error(e.what());
    return 1;
  }
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &e) { // e.g. the logger could not be set up
    kernspan::cli::print_error(e.what());
    return 1;
  }
}
