#include "cli.hpp"

#include "duration.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <utility>

namespace memguard {

namespace {

// What a command accepts besides its name.
enum Accepts : unsigned {
    takes_config = 1U << 0,   // --config FILE, -c FILE
    takes_once = 1U << 1,     // --once
    takes_force = 1U << 2,    // --force
    takes_json = 1U << 3,     // --json
    takes_file = 1U << 4,     // FILE, the config to check
    takes_topic = 1U << 5,    // COMMAND, the one to show help for
    takes_target = 1U << 6,   // NETWORK, the temporary entry's
    takes_for = 1U << 7,      // --for DURATION
    takes_guard = 1U << 8,    // --guard NAME
    takes_comment = 1U << 9,  // --comment TEXT
    takes_address = 1U << 10, // ADDRESS [PORT[/PROTO]], the source to explain
    takes_verbose = 1U << 11, // --verbose
};

struct Spec {
    Command command;
    std::string_view name;
    std::string_view synopsis; // after "memguardd "
    std::string_view summary;  // at most 37 characters: the usage text stays within 80 columns
    unsigned accepts;
    bool root;
};

constexpr std::array specs{
    Spec{Command::run, "run", "run [--config FILE]", "guard the port: apply, verify, repair",
         takes_config, true},
    Spec{Command::check, "check", "check [FILE]", "validate the config, touch nothing",
         takes_file | takes_config, false},
    Spec{Command::apply, "apply", "apply --once [--force] [--config FILE]",
         "bring the kernel to the config once", takes_once | takes_force | takes_config, true},
    Spec{Command::diff, "diff", "diff [--config FILE]", "show config vs kernel", takes_config,
         true},
    Spec{Command::status, "status", "status [-v] [--json] [--config FILE]",
         "the daemon's state, in short", takes_verbose | takes_json | takes_config, true},
    Spec{Command::doctor, "doctor", "doctor [--config FILE]", "look for exposure the rules miss",
         takes_config, true},
    Spec{Command::verify, "verify", "verify [--json] [--config FILE]",
         "the daemon verifies and repairs now", takes_json | takes_config, true},
    Spec{Command::clients, "clients", "clients [--json] [--config FILE]",
         "who talks to the ports now", takes_json | takes_config, true},
    Spec{Command::explain, "explain", "explain ADDRESS [PORT[/PROTO]] [--json]",
         "why an address can or cannot connect", takes_address | takes_json | takes_config, true},
    Spec{Command::allow, "allow", "allow NETWORK --for DURATION [OPTIONS]",
         "let NETWORK in for a while (daemon)",
         takes_target | takes_for | takes_guard | takes_comment, true},
    Spec{Command::revoke, "revoke", "revoke NETWORK [--guard NAME]",
         "end a temporary entry now (daemon)", takes_target | takes_guard, true},
    Spec{Command::remove, "remove", "remove [--force]", "take memguardd's rules out", takes_force,
         true},
    Spec{Command::help, "help", "help [COMMAND]", "this text, or one command's", takes_topic,
         false},
    Spec{Command::version, "--version", "--version", "print the version", 0, false},
};

struct OptionText {
    unsigned flag;
    std::string_view spelling;
    std::string_view text;
};

// In the order they are listed; each text short enough for 80 columns.
constexpr std::array option_texts{
    OptionText{takes_file, "FILE", "the config to validate (default /etc/memguard.json)"},
    OptionText{takes_topic, "COMMAND", "the command to show the options of"},
    OptionText{takes_target, "NETWORK", "an address or network (10.0.0.7, 10.1.0.0/16, fd00::/64)"},
    OptionText{takes_for, "--for DURATION", "how long: 90s, 15min, 2h, 1d, \"1h 30min\""},
    OptionText{takes_guard, "--guard NAME", "the guard (required when the config has several)"},
    OptionText{takes_comment, "--comment TEXT", "the entry's label, as in the config"},
    OptionText{takes_address, "ADDRESS", "the client's IPv4 or IPv6 address"},
    OptionText{takes_address, "PORT[/PROTO]", "only this port (and protocol: tcp or udp)"},
    OptionText{takes_once, "--once", "required: apply once, then exit"},
    OptionText{takes_force, "--force", "act even while a daemon runs in this network namespace"},
    OptionText{takes_verbose, "--verbose, -v", "also every rule and set, with its counters"},
    OptionText{takes_json, "--json", "print JSON, for scripts"},
    OptionText{takes_config, "--config FILE, -c FILE", "read FILE, not /etc/memguard.json"},
};

// What a command's exit status says, where it says more than success or failure.
struct ExitText {
    Command command;
    std::string_view text;
};

constexpr std::array exit_texts{
    ExitText{Command::status, "Exit status: 0 running and in sync, 1 running but out of sync or "
                              "failing closed,\n3 not running.\n"},
    ExitText{Command::doctor, "Exit status: 0 nothing wrong (notes only), 1 warnings, 2 exposure: "
                              "a host not\non the allowlist can reach a guarded port, or "
                              "memguardd does not run.\n"},
};

const Spec& spec(Command command) {
    return *std::ranges::find(specs, command, &Spec::command);
}

const Spec* find_command(std::string_view word) {
    if (word == "--help" || word == "-h") {
        return &spec(Command::help);
    }
    const auto* const it = std::ranges::find(specs, word, &Spec::name);
    return it == specs.end() ? nullptr : &*it;
}

// Rows of two columns, the second starting two spaces after the widest first one.
std::string columns(const std::vector<std::pair<std::string_view, std::string_view>>& rows) {
    std::size_t width = 0;
    for (const auto& row : rows) {
        width = std::max(width, row.first.size());
    }
    std::string out;
    for (const auto& [left, right] : rows) {
        out.append("  ").append(left).append(width - left.size() + 2, ' ').append(right);
        out += '\n';
    }
    return out;
}

std::string all_commands() {
    std::vector<std::pair<std::string_view, std::string_view>> rows;
    rows.reserve(specs.size());
    for (const auto& s : specs) {
        rows.emplace_back(s.synopsis, s.summary);
    }
    return "usage: memguardd COMMAND [OPTIONS]\n\n" + columns(rows) +
           "\n`memguardd COMMAND --help` shows a command's options.\n"
           "Rules live in the legacy iptables tables: see them with iptables-legacy-save and\n"
           "ip6tables-legacy-save (Debian's plain `iptables` is the nft variant).\n";
}

// The value of `name` VALUE or `name`=VALUE at args[i] (--config FILE, -c FILE, --for 2h); i ends
// on the last word it read. `what`: what the value is, for the error.
std::string option_value(const std::vector<std::string>& args, std::size_t& i,
                         std::string_view name, std::string_view what, Command command) {
    const std::string& a = args[i];
    const std::string prefix = std::string(name) + "=";
    std::string value;
    if (a.starts_with(prefix)) {
        value = a.substr(prefix.size());
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("-")) {
        value = args[++i];
    }
    if (value.empty()) {
        throw UsageError(std::string(name) + " needs " + std::string(what), command);
    }
    return value;
}

// --for, --guard, --comment; false when args[i] is none of them.
bool temporary_option(const std::vector<std::string>& args, std::size_t& i, Options& o,
                      const std::function<void(unsigned, std::string_view)>& accept) {
    const std::string& a = args[i];
    if (a == "--for" || a.starts_with("--for=")) {
        accept(takes_for, "--for");
        const std::string text = option_value(args, i, "--for", "a length of time", o.command);
        try {
            o.length = parse_duration(text);
        } catch (const DurationError& e) {
            throw UsageError(std::string("--for: ") + e.what(), o.command);
        }
    } else if (a == "--guard" || a.starts_with("--guard=")) {
        accept(takes_guard, "--guard");
        o.guard = option_value(args, i, "--guard", "a guard name", o.command);
    } else if (a == "--comment" || a.starts_with("--comment=")) {
        accept(takes_comment, "--comment");
        o.comment = option_value(args, i, "--comment", "a text", o.command);
    } else {
        return false;
    }
    return true;
}

// The words a command takes besides its options: check's FILE, help's COMMAND, allow's and
// revoke's NETWORK, explain's ADDRESS and PORT[/PROTO] (checked by the command, which says what
// is wrong with them).
void positional(const std::string& a, Options& o, std::size_t seen) {
    if (o.command == Command::allow || o.command == Command::revoke) {
        o.target = a;
        return;
    }
    if (o.command == Command::explain) {
        (seen == 0 ? o.address : o.service) = a;
        return;
    }
    if (o.command == Command::check) {
        o.config = a;
        o.config_given = true;
        return;
    }
    const Spec* topic = find_command(a);
    if (topic == nullptr || topic->command == Command::help) {
        throw UsageError("no command \"" + a + "\" to show the options of", Command::help);
    }
    o.command = topic->command;
    o.help = true;
}

// The option (or the one positional word) at args[i], into `o`.
void parse_option(const std::vector<std::string>& args, std::size_t& i, Options& o,
                  std::size_t& positional_seen) {
    const std::string& a = args[i];
    const Spec& s = spec(o.command);
    const std::function<void(unsigned, std::string_view)> accept = [&](unsigned flag,
                                                                       std::string_view option) {
        if ((s.accepts & flag) == 0) {
            throw UsageError(std::string(s.name) + " takes no " + std::string(option), o.command);
        }
    };
    if (temporary_option(args, i, o, accept)) {
        return;
    }
    if (a == "--help" || a == "-h") {
        o.help = true;
    } else if (a == "--config" || a == "-c" || a.starts_with("--config=")) {
        accept(takes_config, "--config");
        o.config = option_value(args, i, "--config", "a file name", o.command);
        o.config_given = true;
    } else if (a == "--once") {
        accept(takes_once, a);
        o.once = true;
    } else if (a == "--force") {
        accept(takes_force, a);
        o.force = true;
    } else if (a == "--verbose" || a == "-v") {
        accept(takes_verbose, a);
        o.verbose = true;
    } else if (a == "--json") {
        accept(takes_json, a);
        o.json = true;
    } else if (a.starts_with("-")) {
        throw UsageError("unknown option \"" + a + "\"", o.command);
    } else if (positional_seen >= ((s.accepts & takes_address) != 0 ? 2U : 1U) ||
               (s.accepts & (takes_file | takes_topic | takes_target | takes_address)) == 0) {
        throw UsageError("unexpected argument \"" + a + "\"", o.command);
    } else {
        positional(a, o, positional_seen++);
    }
}

// allow and revoke need their NETWORK, allow its --for.
void check_temporary(const Options& o) {
    if (o.help || (o.command != Command::allow && o.command != Command::revoke)) {
        return;
    }
    if (o.target.empty()) {
        throw UsageError(std::string(command_name(o.command)) +
                             " needs the address or network (10.0.0.7, 10.1.0.0/16)",
                         o.command);
    }
    if (o.command == Command::allow && !o.length) {
        throw UsageError("allow needs --for DURATION (90s, 15min, 2h, 1d): how long the entry "
                         "lasts",
                         o.command);
    }
}

} // namespace

Options parse_args(const std::vector<std::string>& args) {
    Options o;
    // Like systemctl and nft, nothing is done without a command: a daemon started by hand by
    // mistake would program the kernel and leave its rules behind.
    if (args.empty()) {
        throw UsageError("no command (the daemon is `memguardd run`)", Command::help);
    }
    const Spec* command = find_command(args[0]);
    if (command == nullptr) {
        throw UsageError(args[0].starts_with("-") ? "no command before \"" + args[0] + "\""
                                                  : "unknown command \"" + args[0] + "\"",
                         Command::help);
    }
    o.command = command->command;
    std::size_t i = 1;
    std::size_t positional_seen = 0;
    for (; i < args.size(); ++i) {
        parse_option(args, i, o, positional_seen);
    }
    if (o.command == Command::apply && !o.once && !o.help) {
        throw UsageError("apply needs --once (the daemon, `memguardd run`, keeps the rules "
                         "applied)",
                         Command::apply);
    }
    check_temporary(o);
    if (o.command == Command::explain && o.address.empty() && !o.help) {
        throw UsageError("explain needs the ADDRESS of a client", Command::explain);
    }
    return o;
}

std::string usage(Command command) {
    if (command == Command::help) {
        return all_commands();
    }
    const Spec& s = spec(command);
    std::vector<std::pair<std::string_view, std::string_view>> rows;
    for (const auto& o : option_texts) {
        if ((s.accepts & o.flag) != 0) {
            rows.emplace_back(o.spelling, o.text);
        }
    }
    rows.emplace_back("--help, -h", "print this text");
    std::string summary(s.summary);
    summary.front() = static_cast<char>(std::toupper(static_cast<unsigned char>(summary.front())));
    const auto* const exit = std::ranges::find(exit_texts, command, &ExitText::command);
    return "usage: memguardd " + std::string(s.synopsis) + "\n\n" + summary + "." +
           (s.root ? " Needs root." : "") + "\n\n" + columns(rows) +
           (exit == exit_texts.end() ? "" : "\n" + std::string(exit->text));
}

std::string_view command_name(Command command) {
    return spec(command).name;
}

bool needs_root(Command command) {
    return spec(command).root;
}

} // namespace memguard
