// The command line: which subcommand, with which options, and the usage text of each.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace memguard {

enum class Command {
    run,
    check,
    apply,
    diff,
    status,
    doctor,
    verify,
    clients,
    allow,
    revoke,
    explain,
    remove,
    help,
    version
};

struct Options {
    Command command = Command::run;
    std::string config = "/etc/memguard.json";
    bool config_given = false; // --config (or check's FILE) was on the command line
    bool once = false;
    bool json = false;
    bool verbose = false;
    bool force = false; // apply/remove while a daemon runs in this network namespace
    bool help = false;  // `memguardd CMD --help`: print CMD's usage and do nothing else
    // allow and revoke: the address or network, and allow's --for, --guard and --comment.
    std::string target;
    std::optional<std::chrono::seconds> length;
    std::string guard; // "" : the config's only guard
    std::optional<std::string> comment;
    std::string address; // explain's ADDRESS, as given
    std::string service; // explain's PORT[/PROTO], as given; "" for every port
};

// A command line that does not parse: what was wrong, and the command it was for, whose usage
// is worth showing (Command::help when not even the command was known).
class UsageError : public std::invalid_argument {
public:
    UsageError(const std::string& what, Command command)
        : std::invalid_argument(what), command_(command) {}
    [[nodiscard]] Command command() const { return command_; }

private:
    Command command_;
};

// Throws UsageError with a message naming the bad argument.
Options parse_args(const std::vector<std::string>& args);

// Command::help: every command, its synopsis and what it does, in two aligned columns. Any
// other command: its synopsis, what it does and its options.
std::string usage(Command command = Command::help);

std::string_view command_name(Command command);

// Whether the command reads or changes the kernel's tables, which only root may do.
bool needs_root(Command command);

} // namespace memguard
