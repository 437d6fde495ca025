// The one-shot subcommands and the dispatcher; `run` hands over to the service.
#pragma once

#include "cli.hpp"

namespace memguard {

// Returns the process exit status.
int run_command(const Options& options);

} // namespace memguard
