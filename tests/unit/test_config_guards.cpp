// Several guards, labelled entries and conf.d fragments: what parse_config and load_config make
// of them, and the problems they name.
#include "support.hpp"

#include "config.hpp"
#include "config_warnings.hpp"
#include "temp_dir.hpp"

#include <string>
#include <string_view>
#include <vector>

using memguard::ConfigError;
using memguard::GuardSpec;
using memguard::load_config;
using memguard::parse_config;
using memguard::Policy;
using memguard::Protocol;
using unit::net;

namespace {

std::vector<std::string> problems_of(const auto& read) {
    try {
        (void)read();
        FAIL("the config was accepted");
    } catch (const ConfigError& e) {
        return e.problems();
    }
    return {};
}

std::vector<std::string> parse_problems(std::string_view text) {
    return problems_of([&] { return parse_config(text); });
}

// True when one problem line holds every piece.
bool has_line(const std::vector<std::string>& lines, std::initializer_list<std::string_view> all) {
    for (const auto& line : lines) {
        bool every = true;
        for (const auto piece : all) {
            every = every && line.find(piece) != std::string::npos;
        }
        if (every) {
            return true;
        }
    }
    return false;
}

std::string lines(const std::vector<std::string>& problems) {
    std::string out;
    for (const auto& p : problems) {
        out += p + "\n";
    }
    return out;
}

constexpr std::string_view two_guards = R"({
  "guards": [
    {"name": "app-cache", "ports": [11211],
     "allow": ["10.1.0.0/16", {"net": "10.2.0.5", "comment": "batch host"}]},
    {"name": "pages", "ports": [11212, 11213], "protocols": ["tcp"], "allow": ["10.3.0.0/24"]}
  ],
  "action": "reject"
})";

} // namespace

TEST_CASE("guards: each guard keeps its ports, protocols, networks and labels") {
    const Policy p = parse_config(two_guards);
    REQUIRE(p.guards.size() == 2);
    const GuardSpec& cache = p.guards[0];
    CHECK(cache.name == "app-cache");
    CHECK(cache.ports == std::vector<std::uint16_t>{11211});
    CHECK(cache.protocols == std::vector<Protocol>{Protocol::tcp, Protocol::udp});
    CHECK(cache.allow == std::vector{net("10.1.0.0/16"), net("10.2.0.5/32")});
    CHECK(cache.labels.at(net("10.2.0.5/32")) == "batch host");
    CHECK(cache.labels.size() == 1);
    CHECK(cache.reverse_path == std::vector<Protocol>{Protocol::udp});
    const GuardSpec& pages = p.guards[1];
    CHECK(pages.name == "pages");
    CHECK(pages.ports == std::vector<std::uint16_t>{11212, 11213});
    CHECK(pages.protocols == std::vector<Protocol>{Protocol::tcp});
    CHECK(pages.reverse_path.empty()); // udp is not guarded there
    CHECK(p.action == memguard::Action::reject);
}

TEST_CASE("guards: the flat format is one guard named default") {
    const Policy p = parse_config(R"({"ports": [11311], "allow": [{"net": "fd00::/8",
                                      "comment": "ula"}, "10.0.0.0/8"]})");
    REQUIRE(p.guards.size() == 1);
    CHECK(p.guards[0].name == "default");
    CHECK(p.guards[0].ports == std::vector<std::uint16_t>{11311});
    CHECK(p.guards[0].allow == std::vector{net("fd00::/8"), net("10.0.0.0/8")});
    CHECK(p.guards[0].labels.at(net("fd00::/8")) == "ula");
}

TEST_CASE("guards: mistakes are named by their JSON path") {
    const auto problems = parse_problems(R"({"guards": [
        {"name": "a", "ports": [11211], "allow": ["10.0.0.300"], "colour": 1},
        {"name": "Bad Name", "ports": [1]},
        {"name": "b", "allow": []},
        {"name": "c", "ports": [11211], "protocols": ["udp"]},
        {"name": "a", "ports": [2]},
        {"name": "new", "ports": [3]}
      ]})");
    INFO(lines(problems));
    CHECK(has_line(problems, {"guards[0].allow[0]: \"10.0.0.300\"", "not an IPv4 or IPv6"}));
    CHECK(has_line(problems, {"guards[0].colour", "unknown key"}));
    CHECK(has_line(problems, {"guards[1].name: \"Bad Name\"", "not a guard name"}));
    CHECK(has_line(problems, {"guards[2]", "guard \"b\" has no \"ports\""}));
    CHECK(has_line(problems, {"udp port 11211 is in guard \"a\" and in guard \"c\""}));
    CHECK(has_line(problems, {"the name \"a\" is used twice"}));
    CHECK(has_line(problems, {"guards[5].name: \"new\"", "not a guard name"}));
}

TEST_CASE("guards: flat keys and guards do not mix; guards is a non-empty array") {
    CHECK(has_line(parse_problems(R"({"allow": [], "guards": [{"name": "a", "ports": [1]}]})"),
                   {"guards: cannot be given with top-level allow"}));
    CHECK(has_line(parse_problems(R"({"guards": []})"), {"guards: []", "non-empty array"}));
    CHECK(has_line(parse_problems(R"({"guards": [{"name": "a", "ports": [1],
                                       "protocols": ["tcp"], "reverse_path_check": ["udp"]}]})"),
                   {"guards[0].reverse_path_check[0]", "not guarded"}));
}

TEST_CASE("labels: an entry object has net and an optional, printable, bounded comment") {
    const auto problems = parse_problems(R"({"allow": [
        {"comment": "no net"},
        {"net": "10.0.0.0/8", "comment": ""},
        {"net": "10.1.0.0/16", "comment": "tab\there"},
        {"net": "10.2.0.0/16", "label": "x"},
        {"net": "10.3.0.1/16", "comment": "host bits"},
        {"net": "10.4.0.0/16", "comment": "a \"quote\""}
      ]})");
    INFO(lines(problems));
    CHECK(has_line(problems, {"allow[0]", "has no \"net\""}));
    CHECK(has_line(problems, {"allow[1].comment: \"\"", "is not a label"}));
    CHECK(has_line(problems, {"allow[2].comment", "is not a label"}));
    CHECK(has_line(problems, {"allow[3].label", "unknown key"}));
    CHECK(has_line(problems, {"allow[4].net: \"10.3.0.1/16\"", "host bits"}));
    CHECK(has_line(problems, {"allow[5].comment", "quotes or backslashes"}));
    CHECK(has_line(parse_problems(R"({"allow": ["10.0.0.0/8", {"net": "10.0.0.0/8"}]})"),
                   {"allow[1].net", "listed twice"}));
    const std::string long_label(101, 'x');
    CHECK(has_line(
        parse_problems(R"({"allow": [{"net": "10.0.0.0/8", "comment": ")" + long_label + "\"}]}"),
        {"is not a label"}));
}

TEST_CASE("labels: Unicode control and format characters are refused, escaped and named") {
    const auto problems = parse_problems(R"({"allow": [
        {"net": "10.0.0.0/8", "comment": "c1 \u009b"},
        {"net": "10.1.0.0/16", "comment": "web \u202etier"},
        {"net": "10.2.0.0/16", "comment": "tag \udb40\udc41"},
        {"net": "10.3.0.0/16", "comment": "café – Zürich"}
      ]})");
    INFO(lines(problems));
    CHECK(problems.size() == 3);
    CHECK(has_line(problems, {"allow[0].comment: \"c1 \\u009b\" holds U+009B, a control character",
                              "is not a label"}));
    CHECK(has_line(problems, {"allow[1].comment: \"web \\u202etier\" holds U+202E, a Unicode "
                              "format character"}));
    CHECK(has_line(problems, {"allow[2].comment: \"tag \\udb40\\udc41\" holds U+E0041"}));
    for (const auto& line : problems) { // the override is shown escaped, never obeyed
        CHECK(line.find("\xe2\x80\xae") == std::string::npos);
    }
}

TEST_CASE("ports_named_in: the ports of every guard close too") {
    CHECK(memguard::ports_named_in(two_guards) == std::vector<std::uint16_t>{11211, 11212, 11213});
    CHECK(memguard::ports_named_in(R"({"guards": [{"name": "x", "ports": [9]}], "ports": [7],
                                       "other": [[5]]})") == std::vector<std::uint16_t>{7, 9});
}

// ---------------------------------------------------------------------------------------------
// conf.d

namespace {

// A config and its fragment directory, both the way load_config trusts them.
struct ConfD {
    unit::TempDir dir;
    std::string main;
    std::string fragments;
    explicit ConfD(std::string_view text)
        : main(dir.file("memguard.json", text, 0600)), fragments(dir.dir("memguard.d", 0755)) {}
    [[nodiscard]] std::string add(std::string_view name, std::string_view text) const {
        return dir.file("memguard.d/" + std::string(name), text, 0644);
    }
    [[nodiscard]] Policy load() const { return load_config(main, {::geteuid()}); }
    [[nodiscard]] std::vector<std::string> problems() const {
        return problems_of([&] { return load(); });
    }
};

} // namespace

TEST_CASE("conf.d: the fragment directory is the config path with .json replaced by .d") {
    CHECK(memguard::fragment_dir("/etc/memguard.json") == "/etc/memguard.d");
    CHECK(memguard::fragment_dir("/srv/cfg") == "/srv/cfg.d");
    CHECK(memguard::fragment_files("/nonexistent/memguard.json").empty());
}

TEST_CASE("conf.d: fragments add entries and guards in lexical order") {
    const ConfD c(R"({"ports": [11211], "allow": ["10.0.0.0/8"], "action": "drop"})");
    (void)c.add("20-web.json", R"({"allow": [{"net": "192.168.5.0/24", "comment": "web"}]})");
    (void)c.add("10-batch.json", R"({"allow": ["172.16.0.0/12"]})");
    (void)c.add("30-pages.json",
                R"({"guards": [{"name": "pages", "ports": [11212], "allow": ["10.9.0.0/16"]}]})");
    (void)c.add("README", "not json, not read");
    (void)c.add(".hidden.json", "{ broken");
    const Policy p = c.load();
    REQUIRE(p.guards.size() == 2);
    CHECK(p.guards[0].allow ==
          std::vector{net("10.0.0.0/8"), net("172.16.0.0/12"), net("192.168.5.0/24")});
    CHECK(p.guards[0].labels.at(net("192.168.5.0/24")) == "web");
    CHECK(p.guards[1].name == "pages");
    CHECK(p.guards[1].allow == std::vector{net("10.9.0.0/16")});
}

TEST_CASE("conf.d: a file that is not read is named, hidden ones are not") {
    const ConfD c(R"({"allow": ["10.0.0.0/8"]})");
    (void)c.add("20-web.json", R"({"allow": ["192.168.5.0/24"]})");
    const std::string conf = c.add("10-web.conf", R"({"allow": ["172.16.0.0/12"]})");
    const std::string readme = c.add("README", "notes");
    (void)c.add(".hidden.json", "{ broken");
    const Policy p = c.load();
    CHECK(p.guards[0].allow == std::vector{net("10.0.0.0/8"), net("192.168.5.0/24")});
    CHECK(p.ignored_files == std::vector{conf, readme});
    const auto warnings = memguard::config_warnings(p);
    REQUIRE(warnings.size() >= 2);
    CHECK(warnings[0].located(c.main) ==
          conf + ": ignored: only *.json files in the fragment directory are read; name it "
                 "*.json to have it read, or move it out");
    CHECK(warnings[1].file == readme);
    CHECK(memguard::list_fragments(c.main).files == memguard::fragment_files(c.main));
}

TEST_CASE("conf.d: a fragment extends a named guard, and only its allowlist") {
    const ConfD c(two_guards);
    (void)c.add("10-more.json", R"({"guards": [{"name": "pages", "allow": ["10.4.0.0/16"]}]})");
    const Policy p = c.load();
    CHECK(p.guards[1].allow == std::vector{net("10.3.0.0/24"), net("10.4.0.0/16")});

    (void)c.add("20-bad.json", R"({"guards": [{"name": "pages", "ports": [1]}],
                                  "allow": ["10.5.0.0/16"], "action": "drop"})");
    const auto problems = c.problems();
    INFO(lines(problems));
    const std::string bad = c.fragments + "/20-bad.json: ";
    CHECK(has_line(problems, {bad + "guards[0].ports", "adds only \"allow\""}));
    CHECK(has_line(problems, {bad + "allow: there are 2 guards"}));
    CHECK(has_line(problems, {bad + "\"action\"", "settings belong in the main file"}));
}

TEST_CASE("conf.d: every problem names its file; duplicates name both places") {
    const ConfD c(R"({"allow": ["10.0.0.0/8"]})");
    (void)c.add("10-a.json", R"({"allow": ["10.0.0.0/8"]})");
    (void)c.add("20-b.json", R"({"allow": [)");
    (void)c.add("30-c.json", R"({"guards": [{"name": "x", "ports": [11211]}]})");
    const std::string d = c.fragments;
    const auto problems = c.problems();
    INFO(lines(problems));
    CHECK(has_line(problems, {d + "/10-a.json: allow[0]", "listed twice (also in the main file "
                                                          "at allow[0])"}));
    CHECK(has_line(problems, {d + "/20-b.json: not valid JSON"}));
    CHECK(has_line(problems, {c.main + ": guards: tcp port 11211 is in guard \"default\" and in "
                                       "guard \"x\""}));
}

TEST_CASE("conf.d: a fragment's bad label names the fragment and the entry") {
    const ConfD c(R"({"allow": ["10.0.0.0/8"]})");
    const auto fragment = c.add("10-web.json", R"({"allow": ["172.16.0.0/12",
                                  {"net": "192.168.5.0/24", "comment": "web\u200b"}]})");
    const auto problems = c.problems();
    INFO(lines(problems));
    CHECK(has_line(problems, {fragment + ": allow[1].comment: \"web\\u200b\" holds U+200B"}));
}

TEST_CASE("conf.d: a fragment is held to the main file's rules") {
    const ConfD c(R"({"allow": []})");
    const auto loose = c.add("10-loose.json", R"({"allow": ["10.0.0.0/8"]})");
    REQUIRE(::chmod(loose.c_str(), 0666) == 0);
    CHECK(has_line(c.problems(), {loose + ": is writable by group or others"}));
}

TEST_CASE("conf.d: a fragment directory that cannot be listed is an error naming it") {
    const unit::TempDir dir;
    const auto main = dir.file("memguard.json", R"({"allow": []})", 0600);
    const auto not_a_dir = dir.file("memguard.d", "", 0600);
    const auto problems = problems_of([&] { return load_config(main, {::geteuid()}); });
    INFO(lines(problems));
    CHECK(has_line(problems, {not_a_dir + ": cannot list the fragments: Not a directory"}));
}
