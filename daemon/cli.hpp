// The command line: which subcommand, with which options.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace memguard {

enum class Command { run, check, apply, diff, status, doctor, remove, verify, help, version };

struct Options {
    Command command = Command::run;
    std::string config = "/etc/memguard.json";
    bool config_given = false; // --config (or check's FILE) was on the command line
    bool once = false;
    bool json = false;
    bool force = false; // apply/remove while a daemon runs in this network namespace
};

// Throws std::invalid_argument with a message naming the bad argument.
Options parse_args(const std::vector<std::string>& args);

extern const char* const usage_text;

} // namespace memguard
