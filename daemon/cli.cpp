#include "cli.hpp"

#include <map>
#include <stdexcept>

namespace memguard {

const char* const usage_text =
    "usage: memguardd [run] [--config FILE]     guard the port: apply, verify and repair on a "
    "timer\n"
    "       memguardd check [FILE]              validate the config, touch nothing\n"
    "       memguardd apply --once [--force] [--config FILE]  bring the kernel to the config "
    "once\n"
    "       memguardd diff [--config FILE]      show config vs kernel (exit 1 if they differ)\n"
    "       memguardd status [--json] [--config FILE]  rules and counters as the kernel has them\n"
    "       memguardd verify [--json] [--config FILE]  the daemon verifies and repairs now\n"
    "       memguardd doctor [--config FILE]    look for exposure the rules do not cover\n"
    "       memguardd remove [--force]          take memguardd's rules out of the kernel\n"
    "Rules live in the legacy iptables tables: see them with iptables-legacy-save and\n"
    "ip6tables-legacy-save (Debian's plain `iptables` is the nft variant).\n";

Options parse_args(const std::vector<std::string>& args) {
    static const std::map<std::string, Command> commands{
        {"run", Command::run},       {"check", Command::check},   {"apply", Command::apply},
        {"diff", Command::diff},     {"status", Command::status}, {"doctor", Command::doctor},
        {"remove", Command::remove}, {"verify", Command::verify}, {"help", Command::help},
        {"--help", Command::help},   {"-h", Command::help},       {"--version", Command::version}};
    Options o;
    std::size_t i = 0;
    if (i < args.size() && args[i].rfind('-', 0) != 0) {
        const auto it = commands.find(args[i]);
        if (it == commands.end()) {
            throw std::invalid_argument("unknown command \"" + args[i] + "\"");
        }
        o.command = it->second;
        ++i;
    } else if (i < args.size() && commands.contains(args[i])) {
        o.command = commands.at(args[i]);
        ++i;
    }
    bool positional_config = false;
    for (; i < args.size(); ++i) {
        const auto& a = args[i];
        if ((a == "--config" || a == "-c") && i + 1 < args.size()) {
            o.config = args[++i];
            o.config_given = true;
        } else if (a.rfind("--config=", 0) == 0) {
            o.config = a.substr(9);
            o.config_given = true;
        } else if (a == "--once" && o.command == Command::apply) {
            o.once = true;
        } else if (a == "--force" &&
                   (o.command == Command::apply || o.command == Command::remove)) {
            o.force = true;
        } else if (a == "--json" &&
                   (o.command == Command::status || o.command == Command::verify)) {
            o.json = true;
        } else if (o.command == Command::check && !positional_config && a.rfind('-', 0) != 0) {
            o.config = a;
            positional_config = true;
        } else {
            throw std::invalid_argument("unexpected argument \"" + a + "\"");
        }
    }
    if (o.command == Command::apply && !o.once) {
        throw std::invalid_argument("apply needs --once (the daemon, `memguardd run`, keeps "
                                    "the rules applied)");
    }
    return o;
}

} // namespace memguard
