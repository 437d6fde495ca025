#include "support.hpp"

#include "config.hpp"
#include "config_file.hpp"
#include "temp_dir.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using memguard::Action;
using memguard::ConfigError;
using memguard::load_config;
using memguard::parse_config;
using memguard::Policy;
using memguard::ports_named_in;
using memguard::ports_named_in_file;
using memguard::Protocol;
using unit::net;

namespace {

// A copy of config/memguard.json as shipped.
constexpr std::string_view shipped_config = R"({
  "ports": [11211],
  "protocols": ["tcp", "udp"],
  "allow": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
  "allow_loopback": true,
  "accept_established": true,
  "action": "drop",
  "verify_interval_s": 5
}
)";

// The problems parse_config reports for `text`; fails the test if it accepts the text.
std::vector<std::string> problems_of(std::string_view text) {
    try {
        const Policy p = parse_config(text);
        FAIL("parse_config accepted it: " << text << "\n  as " << Catch::Detail::stringify(p));
    } catch (const ConfigError& e) {
        std::string joined;
        for (const auto& line : e.problems()) {
            joined += (joined.empty() ? "" : "\n") + line;
        }
        CHECK(std::string(e.what()) == joined);
        CHECK_FALSE(e.problems().empty());
        return e.problems();
    }
    return {};
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) {
        out += line + "\n";
    }
    return out;
}

// True if one single problem line contains every fragment (path and value belong together).
bool one_line_has(const std::vector<std::string>& lines,
                  std::initializer_list<std::string_view> fragments) {
    for (const auto& line : lines) {
        bool all = true;
        for (const auto f : fragments) {
            all = all && line.find(f) != std::string::npos;
        }
        if (all) {
            return true;
        }
    }
    return false;
}

#define CHECK_PROBLEM(text, ...)                                                                   \
    do {                                                                                           \
        const auto problems_ = problems_of(text);                                                  \
        INFO("config: " << (text) << "\nproblems:\n" << joined(problems_));                        \
        CHECK(one_line_has(problems_, {__VA_ARGS__}));                                             \
    } while (false)

std::vector<std::string> load_problems(const std::string& path, memguard::FileRules rules = {}) {
    try {
        (void)load_config(path, rules);
        FAIL("load_config accepted " << path);
    } catch (const ConfigError& e) {
        return e.problems();
    }
    return {};
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Valid input

TEST_CASE("config: the shipped memguard.json parses to the shipped policy") {
    const Policy p = parse_config(shipped_config);
    CHECK(p == unit::shipped_policy());
    CHECK(p.guards[0].ports == std::vector<std::uint16_t>{11211});
    CHECK(p.guards[0].protocols == std::vector<Protocol>{Protocol::tcp, Protocol::udp});
    // The private ranges: closed to the internet, no LAN client cut at install.
    REQUIRE(p.guards[0].allow.size() == 4);
    CHECK(p.guards[0].allow[0].to_string() == "10.0.0.0/8");
    CHECK(p.guards[0].allow[1].to_string() == "172.16.0.0/12");
    CHECK(p.guards[0].allow[2].to_string() == "192.168.0.0/16");
    CHECK(p.guards[0].allow[3].to_string() == "fc00::/7");
    CHECK(p.allow_loopback);
    CHECK(p.accept_established);
    CHECK(p.action == Action::drop);
    CHECK(p.verify_interval == std::chrono::seconds(5));
}

TEST_CASE("config: the copy above is config/memguard.json byte for byte") {
    std::ifstream in(MEMGUARD_SHIPPED_CONFIG, std::ios::binary);
    REQUIRE(in);
    const std::string file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    CHECK(file == shipped_config);
}

TEST_CASE("config: missing keys take their defaults") {
    const Policy empty = parse_config("{}");
    CHECK(empty.guards[0].ports == std::vector<std::uint16_t>{11211});
    CHECK(empty.guards[0].protocols == std::vector<Protocol>{Protocol::tcp, Protocol::udp});
    CHECK(empty.guards[0].allow.empty());
    CHECK(empty.allow_loopback);
    CHECK(empty.accept_established);
    CHECK(empty.action == Action::drop);
    CHECK(empty.verify_interval == std::chrono::seconds(5));
    CHECK_FALSE(empty.log_blocked);
    CHECK(empty.log_group == 11211);
    CHECK(empty.log_rate_per_s == 10);
    CHECK(empty.guards[0].reverse_path == std::vector<Protocol>{Protocol::udp});
    CHECK(empty == Policy{});

    Policy want;
    want.guards[0].allow = {net("10.0.0.0/8")};
    CHECK(parse_config(R"({"allow": ["10.0.0.0/8"]})") == want);

    want = Policy{};
    want.action = Action::reject;
    CHECK(parse_config(R"({"action": "reject"})") == want);
}

TEST_CASE("config: every key set to a non-default value") {
    const Policy p = parse_config(R"({
        "ports": [11211, 22122, 1, 65535],
        "protocols": ["udp"],
        "allow": ["10.0.0.0/8", "fd12:3456::/48", "203.0.113.7", "2001:db8::1/128", "0.0.0.0/0"],
        "allow_loopback": false,
        "accept_established": false,
        "action": "reject",
        "verify_interval_s": 3600,
        "log_blocked": true,
        "log_group": 7,
        "log_rate_per_s": 100
    })");
    CHECK(p.guards[0].ports == std::vector<std::uint16_t>{11211, 22122, 1, 65535});
    CHECK(p.guards[0].protocols == std::vector<Protocol>{Protocol::udp});
    CHECK(p.guards[0].allow ==
          std::vector<memguard::Network>{net("10.0.0.0/8"), net("fd12:3456::/48"),
                                         net("203.0.113.7"), net("2001:db8::1"), net("0.0.0.0/0")});
    CHECK_FALSE(p.allow_loopback);
    CHECK_FALSE(p.accept_established);
    CHECK(p.action == Action::reject);
    CHECK(p.verify_interval == std::chrono::seconds(3600));
    CHECK(p.log_blocked);
    CHECK(p.log_group == 7);
    CHECK(p.log_rate_per_s == 100);

    CHECK(parse_config(R"({"log_group": 1})").log_group == 1);
    CHECK(parse_config(R"({"log_group": 65535})").log_group == 65535);
    CHECK(parse_config(R"({"log_rate_per_s": 1})").log_rate_per_s == 1);
    CHECK(parse_config(R"({"log_rate_per_s": 10000})").log_rate_per_s == 10000);
    CHECK(parse_config(R"({"verify_interval_s": 1})").verify_interval == std::chrono::seconds(1));
    CHECK(parse_config(R"({"allow": []})").guards[0].allow.empty());
    CHECK(parse_config(R"({"protocols": ["udp", "tcp"]})").guards[0].protocols ==
          std::vector<Protocol>{Protocol::udp, Protocol::tcp});
}

TEST_CASE("config: reverse_path_check is udp where udp is guarded, and only guarded protocols") {
    using P = std::vector<Protocol>;
    CHECK(parse_config(R"({"protocols": ["tcp"]})").guards[0].reverse_path.empty());
    CHECK(parse_config(R"({"reverse_path_check": []})").guards[0].reverse_path.empty());
    CHECK(parse_config(R"({"reverse_path_check": ["tcp", "udp"]})").guards[0].reverse_path ==
          P{Protocol::tcp, Protocol::udp});
    // The key may come before the protocols it is checked against.
    CHECK(parse_config(R"({"reverse_path_check": ["tcp"], "protocols": ["tcp"]})")
              .guards[0]
              .reverse_path == P{Protocol::tcp});
    CHECK_PROBLEM(R"({"protocols": ["tcp"], "reverse_path_check": ["udp"]})",
                  "reverse_path_check[0]", "\"udp\" is not guarded");
    CHECK_PROBLEM(R"({"reverse_path_check": ["icmp"]})", "reverse_path_check[0]", "icmp",
                  "is not a protocol");
    CHECK_PROBLEM(R"({"reverse_path_check": ["udp", "udp"]})", "reverse_path_check[1]",
                  "is listed twice");
    CHECK_PROBLEM(R"({"reverse_path_check": "udp"})", "reverse_path_check", "is not an array");
    CHECK(memguard::fail_closed_policy().guards[0].reverse_path.empty());
}

TEST_CASE("config: valid UTF-8 and a byte order mark are not mistaken for bad bytes") {
    // Two-, three- and four-byte sequences inside a string: the error is about the action only.
    CHECK_PROBLEM("{\"action\": \"dr\xc3\xb6p \xe2\x82\xac \xf0\x9f\x94\xa5\"}", "action",
                  "is not \"drop\" or \"reject\"");
    CHECK(parse_config("\xef\xbb\xbf{\"action\": \"reject\"}").action == Action::reject);
}

// ---------------------------------------------------------------------------------------------
// Wrong keys and types

TEST_CASE("config: an unknown key is an error naming the key") {
    CHECK_PROBLEM(R"({"allow_lo": true})", "\"allow_lo\"", "unknown key");
    CHECK_PROBLEM(R"({"allow": [], "port": [11211]})", "\"port\"", "unknown key");
    CHECK_PROBLEM(R"({"Ports": [11211]})", "\"Ports\"", "unknown key");
    const auto p = problems_of(R"({"allow_lo": true})");
    CHECK(p.size() == 1);
}

TEST_CASE("config: a wrong type for each key names the key and the value") {
    struct Case {
        std::string_view text;
        std::string_view path;
        std::string_view value;
    };
    for (const auto& c : std::initializer_list<Case>{
             {R"({"ports": "11211"})", "ports", R"("11211")"},
             {R"({"ports": 11211})", "ports", "11211"},
             {R"({"ports": {}})", "ports", "{}"},
             {R"({"ports": null})", "ports", "null"},
             {R"({"ports": [true]})", "ports[0]", "true"},
             {R"({"ports": [[11211]]})", "ports[0]", "[11211]"},
             {R"({"protocols": "tcp"})", "protocols", R"("tcp")"},
             {R"({"protocols": {"tcp": true}})", "protocols", R"({"tcp":true})"},
             {R"({"protocols": [6]})", "protocols[0]", "6"},
             {R"({"protocols": [null]})", "protocols[0]", "null"},
             {R"({"allow": "192.168.1.0/24"})", "allow", R"("192.168.1.0/24")"},
             {R"({"allow": null})", "allow", "null"},
             {R"({"allow": {}})", "allow", "{}"},
             {R"({"allow": [42]})", "allow[0]", "42"},
             {R"({"allow": ["10.0.0.0/8", ["10.0.0.0/8"]]})", "allow[1]", R"(["10.0.0.0/8"])"},
             {R"({"allow_loopback": "true"})", "allow_loopback", R"("true")"},
             {R"({"allow_loopback": 1})", "allow_loopback", "1"},
             {R"({"allow_loopback": null})", "allow_loopback", "null"},
             {R"({"accept_established": "yes"})", "accept_established", R"("yes")"},
             {R"({"accept_established": 0})", "accept_established", "0"},
             {R"({"accept_established": []})", "accept_established", "[]"},
             {R"({"action": 1})", "action", "1"},
             {R"({"action": null})", "action", "null"},
             {R"({"action": ["drop"]})", "action", R"(["drop"])"},
             {R"({"action": true})", "action", "true"},
             {R"({"verify_interval_s": "5"})", "verify_interval_s", R"("5")"},
             {R"({"verify_interval_s": 5.5})", "verify_interval_s", "5.5"},
             {R"({"verify_interval_s": true})", "verify_interval_s", "true"},
             {R"({"verify_interval_s": null})", "verify_interval_s", "null"},
             {R"({"log_blocked": "true"})", "log_blocked", R"("true")"},
             {R"({"log_blocked": 1})", "log_blocked", "1"},
             {R"({"log_group": "11211"})", "log_group", R"("11211")"},
             {R"({"log_group": 1.5})", "log_group", "1.5"},
             {R"({"log_group": null})", "log_group", "null"},
             {R"({"log_rate_per_s": "10"})", "log_rate_per_s", R"("10")"},
             {R"({"log_rate_per_s": [10]})", "log_rate_per_s", "[10]"},
         }) {
        const auto problems = problems_of(c.text);
        INFO("config: " << c.text << "\nproblems:\n" << joined(problems));
        CHECK(problems.size() == 1);
        // "path: value what", the path first.
        REQUIRE_FALSE(problems.empty());
        CHECK(problems[0].rfind(std::string(c.path) + ": " + std::string(c.value) + " ", 0) == 0);
    }
}

// ---------------------------------------------------------------------------------------------
// allow

TEST_CASE("config: a bad CIDR names allow[N] and the string") {
    for (const std::string_view bad :
         {"192.168.1.300/24", "10.0.0.0/33", "::/129", "not a network", "10.0.0.0/", "10.0.0.0/-1",
          "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/08x", "", "fd12:3456::/48/1", " 10.0.0.0/8"}) {
        const std::string text = R"({"allow": ["10.0.0.0/8", ")" + std::string(bad) + R"("]})";
        CHECK_PROBLEM(text, "allow[1]", "\"" + std::string(bad) + "\"",
                      "is not an IPv4 or IPv6 network");
    }
    // The design's own example, exactly.
    const auto p = problems_of(R"({"allow": ["10.0.0.0/8", "fd12::/16", "192.168.1.300/24"]})");
    CHECK(p == std::vector<std::string>{
                   R"(allow[2]: "192.168.1.300/24" is not an IPv4 or IPv6 network)"});
}

TEST_CASE("config: a hostname in allow says hostnames are not supported") {
    CHECK_PROBLEM(R"({"allow": ["10.0.0.0/8", "db.example.com"]})",
                  R"(allow[1]: "db.example.com": hostnames are not supported; list addresses )"
                  "or networks");
    CHECK_PROBLEM(R"({"allow": ["localhost"]})",
                  R"(allow[0]: "localhost": hostnames are not supported)");
    // Not hostnames: a bad address, a network with a name in it, an IPv6 typo.
    CHECK_PROBLEM(R"({"allow": ["10.0.0.256"]})",
                  R"(allow[0]: "10.0.0.256" is not an IPv4 or IPv6 network)");
    CHECK_PROBLEM(R"({"allow": ["db.example.com/24"]})",
                  R"(allow[0]: "db.example.com/24" is not an IPv4 or IPv6 network)");
    CHECK_PROBLEM(R"({"allow": ["fd12::g"]})", R"(allow[0]: "fd12::g" is not an IPv4 or IPv6)");
}

TEST_CASE("config: a network string with an embedded NUL is refused") {
    // "\u0000" is valid JSON; what follows it must not be silently cut off.
    CHECK_PROBLEM(R"({"allow": ["10.0.0.0\u0000garbage/8"]})", "allow[0]",
                  "is not an IPv4 or IPv6 network");
    CHECK_PROBLEM(R"({"allow": ["192.168.1.5\u0000 or anything"]})", "allow[0]",
                  "is not an IPv4 or IPv6 network");
}

TEST_CASE("config: host bits set are an error that suggests the network") {
    CHECK(problems_of(R"({"allow": ["192.168.1.1/24"]})") ==
          std::vector<std::string>{R"(allow[0]: "192.168.1.1/24" has host bits set; did you )"
                                   R"(mean "192.168.1.0/24"?)"});
    CHECK_PROBLEM(R"({"allow": ["10.0.0.0/8", "fd12:3456::1/48"]})", "allow[1]",
                  R"("fd12:3456::1/48")", "host bits", R"("fd12:3456::/48")");
    CHECK_PROBLEM(R"({"allow": ["1.2.3.4/0"]})", "allow[0]", R"("1.2.3.4/0")", "host bits",
                  R"("0.0.0.0/0")");
}

TEST_CASE("config: a network listed twice is an error") {
    CHECK_PROBLEM(R"({"allow": ["10.0.0.0/8", "192.168.1.0/24", "10.0.0.0/8"]})", "allow[2]",
                  R"("10.0.0.0/8")", "listed twice");
    CHECK_PROBLEM(R"({"allow": ["fd12:3456::/48", "FD12:3456:0::/48"]})", "allow[1]",
                  R"("FD12:3456:0::/48")", "listed twice");
    CHECK_PROBLEM(R"({"allow": ["10.0.0.1", "10.0.0.1/32"]})", "allow[1]", R"("10.0.0.1/32")",
                  "listed twice");
}

// ---------------------------------------------------------------------------------------------
// ports, protocols, action, interval

TEST_CASE("config: ports out of range or not integers") {
    for (const std::string_view bad : {"0", "65536", "-1", "1.5", "\"11211\"", "11211.0", "1e3",
                                       "18446744073709551615", "99999999999999999999999"}) {
        const std::string text = R"({"ports": [11211, )" + std::string(bad) + "]}";
        CHECK_PROBLEM(text, "ports[1]", "is not a port number");
    }
    CHECK(
        problems_of(R"({"ports": [0]})") ==
        std::vector<std::string>{"ports[0]: 0 is not a port number (an integer from 1 to 65535)"});
    CHECK_PROBLEM(R"({"ports": [65536]})", "ports[0]: 65536 ");
    CHECK_PROBLEM(R"({"ports": [-1]})", "ports[0]: -1 ");
    CHECK_PROBLEM(R"({"ports": [1.5]})", "ports[0]: 1.5 ");
    CHECK_PROBLEM(R"({"ports": ["11211"]})", R"(ports[0]: "11211" )");
}

TEST_CASE("config: a number too large for a double is a config error and no other exception") {
    CHECK_PROBLEM(R"({"ports": [1e400]})", "1e400");
    CHECK_PROBLEM(R"({"verify_interval_s": -1e400})", "-1e400");
}

TEST_CASE("config: duplicate ports and protocols") {
    CHECK(problems_of(R"({"ports": [11211, 11211]})") ==
          std::vector<std::string>{"ports[1]: 11211 is listed twice"});
    CHECK_PROBLEM(R"({"ports": [1, 2, 3, 2]})", "ports[3]: 2 ", "listed twice");
    CHECK_PROBLEM(R"({"protocols": ["tcp", "udp", "tcp"]})", R"(protocols[2]: "tcp" )",
                  "listed twice");
}

TEST_CASE("config: empty ports or protocols") {
    CHECK_PROBLEM(R"({"ports": []})", "ports: [] ", "non-empty");
    CHECK_PROBLEM(R"({"protocols": []})", "protocols: [] ", "non-empty");
}

TEST_CASE("config: unknown protocol") {
    for (const std::string_view bad : {"sctp", "TCP", "icmp", "", "tcp "}) {
        const std::string text = R"({"protocols": ["udp", ")" + std::string(bad) + R"("]})";
        CHECK_PROBLEM(text, "protocols[1]: \"" + std::string(bad) + "\" ", "is not a protocol");
    }
}

TEST_CASE("config: bad action") {
    for (const std::string_view bad : {"accept", "DROP", "Reject", "", "deny"}) {
        const std::string text = R"({"action": ")" + std::string(bad) + R"("})";
        CHECK_PROBLEM(text, "action: \"" + std::string(bad) + "\" ", "\"drop\" or \"reject\"");
    }
}

TEST_CASE("config: verify_interval_s out of range") {
    for (const std::string_view bad : {"0", "3601", "\"5\"", "-5", "2.5", "86400"}) {
        const std::string text = R"({"verify_interval_s": )" + std::string(bad) + "}";
        CHECK_PROBLEM(text, "verify_interval_s: " + std::string(bad) + " ", "1 to 3600");
    }
}

TEST_CASE("config: log_group and log_rate_per_s out of range") {
    for (const std::string_view bad : {"0", "65536", "-1", "70000"}) {
        const std::string text = R"({"log_group": )" + std::string(bad) + "}";
        CHECK_PROBLEM(text, "log_group: " + std::string(bad) + " ", "from 1 to 65535");
    }
    for (const std::string_view bad : {"0", "10001", "-10", "4294967306"}) {
        const std::string text = R"({"log_rate_per_s": )" + std::string(bad) + "}";
        CHECK_PROBLEM(text, "log_rate_per_s: " + std::string(bad) + " ", "from 1 to 10000");
    }
}

// ---------------------------------------------------------------------------------------------
// Not a JSON object

TEST_CASE("config: a duplicated key is an error even with the same value") {
    CHECK_PROBLEM(R"({"action": "drop", "action": "reject"})", "action", "more than once");
    CHECK_PROBLEM(R"({"ports": [11211], "allow": [], "ports": [11211]})", "ports",
                  "more than once");
}

TEST_CASE("config: text that is not JSON") {
    CHECK_PROBLEM("{", "not valid JSON", "line 1, column 2");
    CHECK_PROBLEM("{\n  \"ports\": [11211,]\n}", "not valid JSON", "line 2");
    CHECK_PROBLEM(R"({"ports": [11211]} x)", "not valid JSON");
    CHECK_PROBLEM(R"({"ports": [11211]}{})", "not valid JSON");
    CHECK_PROBLEM(R"({'ports': [11211]})", "not valid JSON");
    CHECK_PROBLEM(R"({"ports": [11211],})", "not valid JSON");
    CHECK_PROBLEM("{\"ports\": [11211]} // comment", "not valid JSON");
}

TEST_CASE("config: a comment says JSON has none") {
    const std::string hint = "JSON has no comments; keep notes in a separate file";
    CHECK_PROBLEM("{\"ports\": [11211]} // memcached", "not valid JSON",
                  "; line 1, column 20: " + hint);
    CHECK_PROBLEM("{\n  # the office\n  \"allow\": [\"10.0.0.0/8\"]\n}", "not valid JSON",
                  "; line 2, column 3: " + hint);
    CHECK_PROBLEM("{\"allow\": [\"10.0.0.0/8\" /* office */]}", "line 1, column 25: " + hint);
    // A # or // inside a string is no comment, whatever else is wrong.
    const auto in_string = problems_of(R"({"action": "drop # not \" // this", })");
    INFO(joined(in_string));
    REQUIRE(in_string.size() == 1);
    CHECK(in_string[0].find("not valid JSON") != std::string::npos);
    CHECK(in_string[0].find("comments") == std::string::npos);
}

TEST_CASE("config: trailing bytes after a NUL are not silently ignored") {
    using namespace std::string_view_literals;
    const auto text = "{\"allow\": [\"10.0.0.0/8\"]}\0{\"allow\": [\"0.0.0.0/0\"]}"sv;
    const auto problems = problems_of(text);
    INFO(joined(problems));
    REQUIRE(problems.size() == 1);
    // where (line, column and byte offset of the NUL) and what
    CHECK(problems[0].find("line 1, column 26: a NUL byte (byte 25) is not allowed") !=
          std::string::npos);
}

TEST_CASE("config: empty and whitespace-only files") {
    CHECK_PROBLEM("", "empty");
    CHECK_PROBLEM("   \n\t\r\n  ", "empty");
}

TEST_CASE("config: the top level must be an object") {
    CHECK_PROBLEM(R"([{"ports": [11211]}])", "top level", "object", "array");
    CHECK_PROBLEM("[]", "top level", "array");
    CHECK_PROBLEM("\"ports\"", "top level", "string");
    CHECK_PROBLEM("42", "top level", "number");
    CHECK_PROBLEM("null", "top level", "null");
}

TEST_CASE("config: invalid UTF-8 is refused with its position") {
    // Inside a string: byte 12 of line 1.
    CHECK_PROBLEM("{\"allow\": [\"\xff\"]}", "not valid UTF-8", "line 1, column 13", "byte 12");
    // Outside any string, on line 3.
    CHECK_PROBLEM("{\n  \"ports\": [11211]\n}\xff", "not valid UTF-8", "line 3, column 2",
                  "byte 22");
    CHECK_PROBLEM("\xfe{}", "not valid UTF-8", "line 1, column 1");
    // Overlong encoding of '/', a UTF-16 surrogate, a truncated sequence, beyond U+10FFFF.
    CHECK_PROBLEM("{\"action\": \"\xc0\xaf\"}", "not valid UTF-8", "byte 12");
    CHECK_PROBLEM("{\"action\": \"\xed\xa0\x80\"}", "not valid UTF-8", "byte 12");
    CHECK_PROBLEM("{\"action\": \"drop\xe2\x82", "not valid UTF-8", "byte 16");
    CHECK_PROBLEM("{\"action\": \"\xf4\x90\x80\x80\"}", "not valid UTF-8", "byte 12");
    CHECK_PROBLEM("{\"action\": \"\x80\"}", "not valid UTF-8", "byte 12");
}

TEST_CASE("config: several problems are all reported at once") {
    const auto problems = problems_of(R"({
        "ports": [0, 11211, 11211],
        "protocols": ["sctp"],
        "allow": ["192.168.1.300/24", "10.0.0.1/8"],
        "allow_loopback": "yes",
        "action": "deny",
        "verify_interval_s": 0,
        "allow_lo": true
    })");
    INFO(joined(problems));
    CHECK(problems.size() == 9);
    CHECK(one_line_has(problems, {"ports[0]: 0 "}));
    CHECK(one_line_has(problems, {"ports[2]: 11211 ", "listed twice"}));
    CHECK(one_line_has(problems, {R"(protocols[0]: "sctp" )"}));
    CHECK(one_line_has(problems, {R"(allow[0]: "192.168.1.300/24" is not an IPv4 or IPv6)"}));
    CHECK(one_line_has(problems, {R"(allow[1]: "10.0.0.1/8" has host bits set)", "10.0.0.0/8"}));
    CHECK(one_line_has(problems, {R"(allow_loopback: "yes" )"}));
    CHECK(one_line_has(problems, {R"(action: "deny" )"}));
    CHECK(one_line_has(problems, {"verify_interval_s: 0 "}));
    CHECK(one_line_has(problems, {R"("allow_lo")", "unknown key"}));
}

// ---------------------------------------------------------------------------------------------
// load_config: the file itself

TEST_CASE("load_config: a root-owned 0600 file loads") {
    const unit::TempDir dir;
    const auto path = dir.file("memguard.json", shipped_config, 0600);
    if (::geteuid() == 0) {
        CHECK(load_config(path) == unit::shipped_policy());
    }
    // Whoever runs the test owns the file; with that owner required, it loads too.
    CHECK(load_config(path, {::geteuid()}) == unit::shipped_policy());
    REQUIRE(::chmod(path.c_str(), 0644) == 0);
    CHECK(load_config(path, {::geteuid()}) == unit::shipped_policy());
    REQUIRE(::chmod(path.c_str(), 0400) == 0);
    CHECK(load_config(path, {::geteuid()}) == unit::shipped_policy());
}

TEST_CASE("load_config: a missing file names the path") {
    const unit::TempDir dir;
    const std::string path = dir.path() + "/nope.json";
    const auto problems = load_problems(path, {::geteuid()});
    INFO(joined(problems));
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].rfind(path + ": ", 0) == 0);
    CHECK(problems[0].find("No such file") != std::string::npos);
}

TEST_CASE("load_config: a directory is refused") {
    const unit::TempDir dir;
    const auto problems = load_problems(dir.path(), {::geteuid()});
    INFO(joined(problems));
    CHECK(one_line_has(problems, {dir.path() + ": ", "directory"}));
}

TEST_CASE("load_config: a FIFO is refused without blocking") {
    const unit::TempDir dir;
    const std::string path = dir.path() + "/fifo.json";
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    const auto problems = load_problems(path, {::geteuid()});
    INFO(joined(problems));
    CHECK(one_line_has(problems, {path + ": ", "not a regular file"}));
}

TEST_CASE("load_config: group- or other-writable files are refused") {
    const unit::TempDir dir;
    for (const mode_t mode :
         {mode_t{0664}, mode_t{0646}, mode_t{0620}, mode_t{0602}, mode_t{0666}}) {
        const auto path = dir.file("memguard.json", shipped_config, mode);
        const auto problems = load_problems(path, {::geteuid()});
        char octal[8];
        std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
        INFO("mode " << octal << "\n" << joined(problems));
        CHECK(one_line_has(
            problems, {path + ": ", "writable by group or others", std::string("mode ") + octal}));
    }
}

TEST_CASE("load_config: a file in a group- or world-writable directory is refused") {
    const unit::TempDir dir;
    for (const mode_t mode : {mode_t{0770}, mode_t{0707}, mode_t{0777}, mode_t{01777}}) {
        char octal[8];
        std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
        const auto shared = dir.dir(std::string("shared") + octal, mode);
        const auto path = shared + "/memguard.json";
        REQUIRE(std::filesystem::copy_file(dir.file("src.json", shipped_config, 0600), path));
        const auto problems = load_problems(path, {::geteuid()});
        INFO("mode " << octal << "\n" << joined(problems));
        CHECK(one_line_has(problems, {path + ": is in " + shared + ", ",
                                      "writable by group or others (mode " + std::string(octal),
                                      "move it to a directory only root can write"}));
        CHECK(ports_named_in_file(path, {::geteuid()}).empty());
    }
}

TEST_CASE("load_config: every directory up to / is checked - a sticky one only holds dirs") {
    const unit::TempDir dir;
    // Like mktemp -d under /tmp: a private directory in a sticky, world-writable one.
    const auto sticky = dir.dir("tmp", 01777);
    const auto mine = sticky + "/private";
    REQUIRE(::mkdir(mine.c_str(), 0700) == 0);
    const auto path = mine + "/memguard.json";
    REQUIRE(std::filesystem::copy_file(dir.file("src.json", shipped_config, 0600), path));
    CHECK(load_config(path, {::geteuid()}) == unit::shipped_policy());
    // Through a symlink: the directories of the file it leads to are the ones checked.
    const auto link = dir.path() + "/link.json";
    REQUIRE(::symlink(path.c_str(), link.c_str()) == 0);
    CHECK(load_config(link, {::geteuid()}) == unit::shipped_policy());

    // Without the sticky bit anybody could rename "private" and put another one in its place.
    REQUIRE(::chmod(sticky.c_str(), 0777) == 0);
    const auto problems = load_problems(path, {::geteuid()});
    INFO(joined(problems));
    CHECK(one_line_has(problems, {path + ": is in " + sticky + ", ", "(mode 0777)"}));
    CHECK(one_line_has(load_problems(link, {::geteuid()}), {link + ": is in " + sticky + ", "}));
}

TEST_CASE("load_config: a directory owned by another user is refused") {
    if (::geteuid() != 0) {
        WARN("not root: cannot chown a directory to another user; skipping");
        return;
    }
    const unit::TempDir dir;
    const auto theirs = dir.dir("theirs", 0755);
    REQUIRE(::chown(theirs.c_str(), 65534, 65534) == 0);
    const auto path = theirs + "/memguard.json";
    REQUIRE(std::filesystem::copy_file(dir.file("src.json", shipped_config, 0600), path));
    const auto problems = load_problems(path);
    INFO(joined(problems));
    CHECK(one_line_has(problems, {path + ": is in " + theirs + ", which is owned by uid 65534"}));
}

TEST_CASE("load_config: a file owned by another user is refused") {
    if (::geteuid() != 0) {
        WARN("not root: cannot chown a file to another user; skipping");
        return;
    }
    const unit::TempDir dir;
    const auto path = dir.file("memguard.json", shipped_config, 0600);
    REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    const auto problems = load_problems(path);
    INFO(joined(problems));
    CHECK(one_line_has(problems, {path + ": ", "owned by uid 65534", "uid 0"}));
    // The owner requirement is what decides, not who reads it.
    CHECK(load_config(path, {65534}) == unit::shipped_policy());
}

TEST_CASE("load_config: a file larger than 64 MiB is refused - 64 MiB exactly is read") {
    const unit::TempDir dir;
    std::string big = "{\"allow\": []}";
    big.resize(memguard::max_config_bytes, ' ');
    const auto exact = dir.file("exact.json", big, 0600);
    Policy want;
    CHECK(load_config(exact, {::geteuid()}) == want);

    big += ' ';
    const auto over = dir.file("big.json", big, 0600);
    const auto problems = load_problems(over, {::geteuid()});
    INFO(joined(problems));
    CHECK(one_line_has(problems, {over + ": ", "larger than 64 MiB"}));
}

TEST_CASE("load_config: content problems are prefixed with the path") {
    const unit::TempDir dir;
    const auto path =
        dir.file("bad.json", R"({"allow": ["192.168.1.300/24"], "action": "deny"})", 0600);
    const auto problems = load_problems(path, {::geteuid()});
    INFO(joined(problems));
    REQUIRE(problems.size() == 2);
    CHECK(one_line_has(problems, {path + R"(: allow[0]: "192.168.1.300/24" is not an IPv4)"}));
    CHECK(one_line_has(problems, {path + R"(: action: "deny")"}));

    const auto empty = dir.file("empty.json", "", 0600);
    CHECK(one_line_has(load_problems(empty, {::geteuid()}), {empty + ": ", "empty"}));
}

// ports_named_in for the failing-closed path: what a file that does not validate still says.
using Ports = std::vector<std::uint16_t>;

TEST_CASE("ports_named_in: valid JSON gives every \"ports\" list's ports, sorted and once each") {
    CHECK(ports_named_in(shipped_config) == Ports{11211});
    CHECK(ports_named_in(R"({"ports": [11411, 11311, 11411]})") == Ports{11311, 11411});
    CHECK(ports_named_in(R"({"allow": []})").empty());
    CHECK(ports_named_in(R"({"ports": 11311})").empty()); // not an array
    // Nested (a guard's, or a misplaced one): closing a port too many is safe.
    CHECK(ports_named_in(R"([{"ports": [11311]}])") == Ports{11311});
    CHECK(ports_named_in(R"({"x": {"ports": [11511]}, "ports": [11311]})") == Ports{11311, 11511});
}

TEST_CASE("ports_named_in: a config that is JSON but not valid still names its ports") {
    // One typo'd key: parse_config refuses the whole file.
    const auto typo = R"({"ports": [11311], "alow": ["10.0.0.0/8"]})";
    CHECK_PROBLEM(typo, R"("alow": unknown key)");
    CHECK(ports_named_in(typo) == Ports{11311});
    // A key given twice: both lists count, not only the last one nlohmann keeps.
    CHECK(ports_named_in(R"({"ports": [11311], "allow": [], "ports": [11411]})") ==
          Ports{11311, 11411});
}

TEST_CASE("ports_named_in: text that is not JSON falls back to the \"ports\": [...] lists") {
    CHECK(ports_named_in(R"({"ports": [11311, 11411,], "allow": []})") == Ports{11311, 11411});
    CHECK(ports_named_in("{\n  \"ports\" :\n [ 11311 ],\n  \"allow\": [],\n}\n") == Ports{11311});
    CHECK(ports_named_in(R"({"ports": [11311], "allow": ["10.0.0.0/8"])") == Ports{11311});
    CHECK(ports_named_in(R"({"ports": [11311] "allow": []})") == Ports{11311});
    // A nested "ports" is picked up too: closing one port too many is safe.
    CHECK(ports_named_in(R"({"x": {"ports": [11511]}, "ports": [11311],})") == Ports{11311, 11511});
    // Without its "]", a list ends at the next key.
    CHECK(ports_named_in(R"({"ports": [11311, "allow": ["10.0.0.0/8"], "verify_interval_s": 5})") ==
          Ports{11311});
    CHECK(ports_named_in(R"({"ports" 11311, "allow": [11411],})").empty()); // no ":"
    CHECK(ports_named_in(R"({"ports": 11311,})").empty());                  // no "["
}

TEST_CASE("ports_named_in: a truncated file loses only a number that may be cut short") {
    CHECK(ports_named_in(R"({"ports": [11311, 114)") == Ports{11311});
    CHECK(ports_named_in("{\"ports\": [11311, 11411\n") == Ports{11311, 11411});
    CHECK(ports_named_in(R"({"ports": [11311, 11411],)") == Ports{11311, 11411});
    CHECK(ports_named_in(R"({"ports": [)").empty());
    CHECK(ports_named_in(R"({"por)").empty());
}

TEST_CASE("ports_named_in: ports written as strings or whole floats count, others do not") {
    CHECK(ports_named_in(R"({"ports": ["11311", "memcached", 11411.0]})") == Ports{11311, 11411});
    CHECK(ports_named_in(R"({"ports": ["11311", "memcached", 11411.0],})") == Ports{11311, 11411});
    for (const auto* text : {R"({"ports": [0, -1, 65536, 70000, 11311.5, 1e400, true, null]})",
                             R"({"ports": [0, -1, 65536, 70000, 11311.5, 1e400, true, null],})",
                             R"({"ports": ["0", "65536", "-1", "", "1 1"]})"}) {
        INFO(text);
        CHECK(ports_named_in(text).empty());
    }
    CHECK(ports_named_in(R"({"ports": [1, 65535, 65536]})") == Ports{1, 65535});
}

TEST_CASE("ports_named_in: nothing to find gives nothing, and never an exception") {
    for (const std::string_view text :
         {std::string_view(), std::string_view("   "), std::string_view("not json at all"),
          std::string_view("\xff\xfe{\"ports\": [11311"), std::string_view("[[[[[")}) {
        INFO(text);
        CHECK_NOTHROW(ports_named_in(text));
    }
    CHECK(ports_named_in("\xff\xfe{\"ports\": [11311,]").size() == 1);
    // After a NUL byte the JSON parser sees nothing; the list behind it still counts.
    CHECK(ports_named_in(std::string_view("{\"allow\": []}\0{\"ports\": [11311]}", 32)) ==
          Ports{11311});
}

TEST_CASE("ports_named_in_file: reads only what load_config would read") {
    const unit::TempDir dir;
    const auto broken = dir.file("broken.json", R"({"ports": [11311], "alow": [],})", 0600);
    CHECK(ports_named_in_file(broken, {::geteuid()}) == Ports{11311});
    CHECK(ports_named_in_file(dir.path() + "/missing.json", {::geteuid()}).empty());
    CHECK(ports_named_in_file(dir.path(), {::geteuid()}).empty());
    const auto writable = dir.file("writable.json", R"({"ports": [11311]})", 0666);
    CHECK(ports_named_in_file(writable, {::geteuid()}).empty());
    CHECK(ports_named_in_file(broken, {::geteuid() + 1}).empty()); // another owner required

    std::string big = R"({"ports": [11311]})";
    big.resize(memguard::max_config_bytes + 1, ' ');
    CHECK(ports_named_in_file(dir.file("big.json", big, 0600), {::geteuid()}).empty());
}

TEST_CASE("ports_named_in_file: a FIFO gives nothing, without blocking") {
    const unit::TempDir dir;
    const std::string path = dir.path() + "/fifo.json";
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    CHECK(ports_named_in_file(path, {::geteuid()}).empty());
}
