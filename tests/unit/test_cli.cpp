#include "catch.hpp"

#include "cli.hpp"

#include <sstream>
#include <string>
#include <vector>

using memguard::Command;
using memguard::needs_root;
using memguard::Options;
using memguard::parse_args;
using memguard::usage;
using memguard::UsageError;
using Args = std::vector<std::string>;

namespace {

constexpr Command every_command[] = {
    Command::run,    Command::check,  Command::apply,   Command::diff,    Command::status,
    Command::doctor, Command::verify, Command::clients, Command::explain, Command::allow,
    Command::revoke, Command::remove, Command::help,    Command::version};

// The message of the UsageError parse_args throws for `args`, and the command it names.
std::pair<std::string, Command> refusal(const Args& args) {
    try {
        (void)parse_args(args);
    } catch (const UsageError& e) {
        return {e.what(), e.command()};
    }
    FAIL("parse_args accepted the arguments");
    return {};
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

} // namespace

namespace Catch {
template <> struct StringMaker<Command> {
    static std::string convert(Command c) { return std::string(memguard::command_name(c)); }
};
} // namespace Catch

TEST_CASE("cli: run is named; without a command nothing runs") {
    const Options o = parse_args({"run"});
    CHECK(o.command == Command::run);
    CHECK(o.config == "/etc/memguard.json");
    CHECK_FALSE(o.help);
    CHECK(parse_args({"run", "--config", "/srv/mg.json"}).config == "/srv/mg.json");
    CHECK_THROWS_WITH(parse_args({}), "no command (the daemon is `memguardd run`)");
    CHECK_THROWS_WITH(parse_args({"--config", "/srv/mg.json"}), "no command before \"--config\"");
}

TEST_CASE("cli: each command with its options") {
    Options o = parse_args({"apply", "--once", "--force", "-c", "a.json"});
    CHECK(o.command == Command::apply);
    CHECK(o.once);
    CHECK(o.force);
    CHECK(o.config == "a.json");
    o = parse_args({"status", "--json", "--config=s.json"});
    CHECK((o.command == Command::status && o.json && o.config == "s.json"));
    o = parse_args({"check", "c.json"});
    CHECK((o.command == Command::check && o.config == "c.json"));
    o = parse_args({"verify", "--json", "--config", "v.json"});
    CHECK((o.command == Command::verify && o.json && o.config == "v.json"));
    o = parse_args({"clients", "--json", "--config", "k.json"});
    CHECK((o.command == Command::clients && o.json && o.config == "k.json"));
    o = parse_args({"remove", "--force"});
    CHECK((o.command == Command::remove && o.force));
    CHECK(parse_args({"--version"}).command == Command::version);
    for (const auto& help : {"help", "--help", "-h"}) {
        CHECK(parse_args({help}).command == Command::help);
    }
}

TEST_CASE("cli: --config without a value needs a file name") {
    for (const Args& args :
         {Args{"run", "--config"}, Args{"apply", "--once", "--config"}, Args{"diff", "-c"},
          Args{"status", "--config="}, Args{"status", "--config", "--json"}}) {
        INFO(args.back());
        CHECK(refusal(args).first == "--config needs a file name");
    }
}

TEST_CASE("cli: CMD --help and help CMD give that command's usage - apply needs no --once") {
    for (const auto command : every_command) {
        const std::string name(memguard::command_name(command));
        INFO(name);
        if (command != Command::version && command != Command::help) {
            const Options o = parse_args({name, "--help"});
            CHECK(o.command == command);
            CHECK(o.help);
            const Options via_help = parse_args({"help", name});
            CHECK(via_help.command == command);
            CHECK(via_help.help);
        }
        CHECK(parse_args({name, "-h"}).help);
    }
    CHECK(refusal({"help", "bogus"}).first == "no command \"bogus\" to show the options of");
}

TEST_CASE("cli: what a command does not take is named with the command") {
    CHECK(refusal({"apply"}) ==
          std::pair<std::string, Command>{
              "apply needs --once (the daemon, `memguardd run`, keeps the rules applied)",
              Command::apply});
    CHECK(refusal({"remove", "--json"}) ==
          std::pair<std::string, Command>{"remove takes no --json", Command::remove});
    CHECK(refusal({"diff", "--once"}).first == "diff takes no --once");
    CHECK(refusal({"status", "--fast"}).first == "unknown option \"--fast\"");
    CHECK(refusal({"check", "a.json", "b.json"}).first == "unexpected argument \"b.json\"");
    CHECK(refusal({"doctor", "x"}) ==
          std::pair<std::string, Command>{"unexpected argument \"x\"", Command::doctor});
    CHECK(refusal({"apply-once"}) ==
          std::pair<std::string, Command>{"unknown command \"apply-once\"", Command::help});
}

TEST_CASE("cli: the usage text has one column of synopses and one of text") {
    const auto lines = lines_of(usage());
    REQUIRE(lines.size() > 3);
    CHECK(lines[0] == "usage: memguardd COMMAND [OPTIONS]");
    std::size_t column = 0;
    std::size_t rows = 0;
    for (const auto& line : lines) {
        CHECK(line.size() <= 80);
        if (!line.starts_with("  ")) {
            continue;
        }
        ++rows;
        const auto text = line.find("  ", 2) == std::string::npos
                              ? std::string::npos
                              : line.find_first_not_of(' ', line.find("  ", 2));
        INFO(line);
        REQUIRE(text != std::string::npos);
        CHECK(line[text - 1] == ' ');
        column = column == 0 ? text : column;
        CHECK(text == column);
    }
    CHECK(rows == std::size(every_command));
    for (const auto command : every_command) {
        CHECK(usage().find(std::string(memguard::command_name(command))) != std::string::npos);
    }
}

TEST_CASE("cli: a command's usage lists its options within 80 columns") {
    for (const auto command : every_command) {
        const std::string text = usage(command);
        INFO(text);
        CHECK(text.starts_with("usage: memguardd "));
        for (const auto& line : lines_of(text)) {
            CHECK(line.size() <= 80);
        }
        // usage(Command::help) is the list of all commands, checked above.
        CHECK((command == Command::help || text.find("--help, -h") != std::string::npos));
    }
    CHECK(usage(Command::apply).find("--once") != std::string::npos);
    CHECK(usage(Command::apply).find("--force") != std::string::npos);
    CHECK(usage(Command::verify).find("--json") != std::string::npos);
    CHECK(usage(Command::clients).find("--config FILE") != std::string::npos);
    CHECK(usage(Command::remove).find("--config") == std::string::npos);
    CHECK(usage(Command::diff).find("Needs root.") != std::string::npos);
    CHECK(usage(Command::check).find("Needs root.") == std::string::npos);
}

TEST_CASE("cli: explain takes an address and maybe a port, in any order with its options") {
    auto o = parse_args({"explain", "10.1.2.3", "--json", "11211/udp", "-c", "k.json"});
    CHECK((o.command == Command::explain && o.json && o.config == "k.json"));
    CHECK(o.address == "10.1.2.3");
    CHECK(o.service == "11211/udp");
    o = parse_args({"explain", "fd00::1"});
    CHECK((o.address == "fd00::1" && o.service.empty()));
    CHECK(refusal({"explain"}) == std::pair<std::string, Command>{
                                      "explain needs the ADDRESS of a client", Command::explain});
    CHECK(refusal({"explain", "10.1.2.3", "11211", "11212"}).first ==
          "unexpected argument \"11212\"");
    CHECK(parse_args({"explain", "--help"}).help);
    CHECK(refusal({"clients", "10.1.2.3"}).first == "unexpected argument \"10.1.2.3\"");
}

TEST_CASE("cli: the commands that touch the kernel need root") {
    for (const auto command :
         {Command::run, Command::apply, Command::diff, Command::status, Command::doctor,
          Command::remove, Command::verify, Command::clients, Command::explain}) {
        CHECK(needs_root(command));
    }
    for (const auto command : {Command::check, Command::help, Command::version}) {
        CHECK_FALSE(needs_root(command));
    }
}

TEST_CASE("cli: allow NETWORK --for DURATION, revoke NETWORK") {
    const Options a = parse_args(
        {"allow", "10.0.0.7", "--for", "1h 30min", "--guard", "pages", "--comment=vendor"});
    CHECK(a.command == Command::allow);
    CHECK(a.target == "10.0.0.7");
    CHECK(a.length == std::chrono::seconds(5400));
    CHECK(a.guard == "pages");
    CHECK(a.comment == "vendor");
    const Options r = parse_args({"revoke", "--guard=pages", "10.0.0.7"});
    CHECK(r.command == Command::revoke);
    CHECK(r.target == "10.0.0.7");
    CHECK_FALSE(r.length);
    CHECK(refusal({"allow", "10.0.0.7"}).first ==
          "allow needs --for DURATION (90s, 15min, 2h, 1d): how long the entry lasts");
    CHECK(refusal({"allow", "--for", "2h"}).first ==
          "allow needs the address or network (10.0.0.7, 10.1.0.0/16)");
    CHECK(refusal({"allow", "10.0.0.7", "--for", "2x"}).first ==
          "--for: \"2x\": unknown unit \"x\" after \"2\" (use s, min, h, d, w, M or y, or their "
          "long names: 15min, 2h, 1d)");
    CHECK(refusal({"allow", "10.0.0.7", "--for"}).first == "--for needs a length of time");
    CHECK(refusal({"revoke", "10.0.0.7", "--for", "2h"}).first == "revoke takes no --for");
    CHECK(refusal({"status", "--guard", "x"}).first == "status takes no --guard");
    CHECK(refusal({"allow", "10.0.0.7", "10.0.0.8", "--for", "2h"}).first ==
          "unexpected argument \"10.0.0.8\"");
}
