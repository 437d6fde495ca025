// config_warnings: allow entries that let everybody in or match nothing, and an allowlist that
// lets no other machine in, each named by its JSON path; lets_everyone_in per family.
#include "support.hpp"

#include "config.hpp"
#include "config_warnings.hpp"
#include "temp_dir.hpp"

#include <string>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

using memguard::config_warnings;
using memguard::ConfigWarning;
using memguard::Family;
using memguard::lets_everyone_in;
using memguard::parse_config;
using memguard::Policy;

namespace {

using Lines = std::vector<std::string>;

// The warnings for a config file's text, which must be valid.
Lines warnings_for(std::string_view text) {
    INFO("config: " << text);
    Policy policy;
    REQUIRE_NOTHROW(policy = parse_config(text));
    Lines out;
    for (const auto& w : config_warnings(policy)) {
        CHECK(w.file.empty()); // all in the one file
        out.push_back(w.text);
    }
    return out;
}

bool everyone(Family family, std::string_view allow) {
    const auto policy = parse_config(R"({"allow": )" + std::string(allow) + "}");
    return lets_everyone_in(policy.guards.front().allow, family);
}

constexpr std::string_view nobody_else =
    "so no other machine can reach port 11211; if memcached has clients elsewhere, list their "
    "networks";

} // namespace

TEST_CASE("config_warnings: an ordinary allowlist has nothing to say") {
    CHECK(warnings_for(R"({"allow": ["192.168.1.0/24"]})").empty());
    // The shipped list is named only to be narrowed (see below); nothing in it is dangerous.
    CHECK(warnings_for(R"({"allow": ["10.0.0.0/8", "fd12:3456::/48", "203.0.113.7"]})").empty());
    // Near misses: a network holding loopback and more, NAT64 (not IPv4-mapped), ::/1.
    CHECK(
        warnings_for(R"({"allow": ["126.0.0.0/7", "64:ff9b::a00:1", "::/1", "::/127"]})").empty());
}

TEST_CASE("config_warnings: 0.0.0.0/0 and ::/0 let every host of the family in") {
    CHECK(warnings_for(R"({"allow": ["10.0.0.0/8", "0.0.0.0/0"]})") ==
          Lines{"allow[1]: 0.0.0.0/0 lets every IPv4 host in: port 11211 is not guarded for "
                "IPv4; list the networks that need memcached"});
    CHECK(warnings_for(R"({"ports": [11211, 11311], "allow": ["::/0", "10.0.0.0/8"]})") ==
          Lines{"allow[0]: ::/0 lets every IPv6 host in: ports 11211, 11311 are not guarded for "
                "IPv6; list the networks that need memcached"});
}

TEST_CASE("config_warnings: networks that together hold every address are named as a list") {
    CHECK(warnings_for(R"({"allow": ["0.0.0.0/1", "fd00::/8", "128.0.0.0/1"]})") ==
          Lines{"allow: its IPv4 networks together hold every IPv4 address, so they let every "
                "IPv4 host in: port 11211 is not guarded for IPv4; list the networks that need "
                "memcached"});
    // With a /0 among them, its own line says it all.
    CHECK(warnings_for(R"({"allow": ["0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/0"]})").size() == 1);
}

TEST_CASE("config_warnings: an IPv4-mapped IPv6 entry matches nothing; the IPv4 form is named") {
    const auto lines =
        warnings_for(R"({"allow": ["10.0.0.0/8", "::ffff:192.168.1.5", "::ffff:10.1.0.0/112"]})");
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "allow[1]: ::ffff:192.168.1.5 is an IPv4-mapped IPv6 address: IPv4 packets "
                      "go through iptables with their IPv4 source, never through ip6tables as "
                      "::ffff:a.b.c.d, so it matches nothing; write it as \"192.168.1.5\"");
    CHECK(lines[1].starts_with("allow[2]: ::ffff:10.1.0.0/112 is an IPv4-mapped IPv6 network: "));
    CHECK(lines[1].ends_with("write it as \"10.1.0.0/16\""));
}

TEST_CASE("config_warnings: loopback entries add nothing to the -i lo rule") {
    const auto lines =
        warnings_for(R"({"allow": ["10.0.0.0/8", "127.0.0.1", "127.0.0.0/8", "::1"]})");
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] ==
          "allow[1]: 127.0.0.1 is a loopback address: the \"-i lo\" rule (allow_loopback) "
          "already lets loopback traffic in, and no packet from another machine carries such a "
          "source; remove it");
    CHECK(lines[1].starts_with("allow[2]: 127.0.0.0/8 is a loopback network: "));
    CHECK(lines[2].starts_with("allow[3]: ::1 is a loopback address: "));
    // Without that rule they are what lets local clients in: nothing to say about them.
    CHECK(
        warnings_for(R"({"allow": ["10.0.0.0/8", "127.0.0.1"], "allow_loopback": false})").empty());
}

TEST_CASE("config_warnings: an allowlist that lets no other machine in") {
    CHECK(warnings_for("{}") == Lines{"allow: it is empty, " + std::string(nobody_else)});
    CHECK(warnings_for(R"({"allow": []})") ==
          Lines{"allow: it is empty, " + std::string(nobody_else)});
    const auto only_local = warnings_for(R"({"allow": ["127.0.0.1", "::ffff:10.0.0.1"]})");
    REQUIRE(only_local.size() == 3);
    CHECK(only_local[2] ==
          "allow: it holds only loopback and IPv4-mapped entries, " + std::string(nobody_else));
    CHECK(warnings_for(R"({"allow": ["127.0.0.1"], "allow_loopback": false})") ==
          Lines{"allow: it holds only loopback and IPv4-mapped entries, " +
                std::string(nobody_else)});
}

TEST_CASE("lets_everyone_in: the family's networks must leave no address out") {
    CHECK(everyone(Family::ipv4, R"(["0.0.0.0/0"])"));
    CHECK(everyone(Family::ipv4, R"(["128.0.0.0/1", "0.0.0.0/1"])"));
    CHECK(everyone(Family::ipv4, R"(["0.0.0.0/1", "10.0.0.0/8", "192.0.0.0/2", "128.0.0.0/2"])"));
    CHECK(everyone(Family::ipv6, R"(["::/1", "8000::/2", "c000::/2"])"));
    CHECK(everyone(Family::ipv6, R"(["::/0", "10.0.0.0/8"])"));

    CHECK_FALSE(everyone(Family::ipv4, "[]"));
    CHECK_FALSE(everyone(Family::ipv4, R"(["128.0.0.0/1"])"));              // a gap first
    CHECK_FALSE(everyone(Family::ipv4, R"(["0.0.0.0/1", "128.0.0.0/2"])")); // a gap last
    CHECK_FALSE(everyone(Family::ipv4, R"(["0.0.0.0/2", "128.0.0.0/1"])")); // one between
    CHECK_FALSE(everyone(Family::ipv6, R"(["0.0.0.0/0", "::/1"])"));        // the other family
    CHECK_FALSE(everyone(Family::ipv4, R"(["::/0"])"));
    CHECK_FALSE(everyone(Family::ipv6,
                         R"(["::/1", "8000::/2", "c000::/3", "e000::/4", "f000::/5", "f800::/6",
                             "fc00::/7", "fe00::/8", "ff00::/9", "ff80::/10"])"));
}

TEST_CASE("config_warnings: the shipped allowlist is named, to be narrowed") {
    const auto shipped =
        warnings_for(R"({"allow": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]})");
    REQUIRE(shipped.size() == 1);
    CHECK(shipped[0].find("allow: it is the shipped default") == 0);
    CHECK(shipped[0].find("memguardd clients") != std::string::npos);
    // Any other list, even one of those networks fewer, is the admin's own.
    CHECK(warnings_for(R"({"allow": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]})").empty());
}

TEST_CASE("warnings: with several guards, each guard's findings are named under guards[i]") {
    const auto lines = warnings_for(R"({"guards": [
        {"name": "a", "ports": [11211], "allow": ["10.0.0.0/8"]},
        {"name": "b", "ports": [11212], "allow": ["0.0.0.0/0"]}]})");
    INFO(Catch::Detail::stringify(lines));
    const auto has = [&](std::string_view piece) {
        return std::ranges::any_of(
            lines, [&](const std::string& l) { return l.find(piece) != std::string::npos; });
    };
    CHECK(has("guards[1].allow[0]: 0.0.0.0/0 lets every IPv4 host in: port 11212 is not guarded"));
    CHECK_FALSE(has("guards[0].allow[0]"));
}

namespace {

// The warnings for a main file and its fragments (name, text), loaded as the daemon loads them.
std::vector<ConfigWarning>
loaded_warnings(const unit::TempDir& dir, std::string_view main,
                const std::vector<std::pair<std::string, std::string>>& fragments) {
    const auto path = dir.file("memguard.json", main, 0600);
    (void)dir.dir("memguard.d", 0755);
    for (const auto& [name, text] : fragments) {
        (void)dir.file("memguard.d/" + name, text, 0644);
    }
    Policy policy;
    REQUIRE_NOTHROW(policy = memguard::load_config(path, {::geteuid()}));
    return config_warnings(policy);
}

constexpr std::string_view every_ipv4 =
    "0.0.0.0/0 lets every IPv4 host in: port 11211 is not guarded for IPv4; list the networks "
    "that need memcached";

} // namespace

TEST_CASE("config_warnings: an entry from a fragment is named in that fragment") {
    const unit::TempDir dir;
    const std::string d = dir.path() + "/memguard.d/";
    SECTION("a flat main file's allowlist, extended") {
        const auto found = loaded_warnings(
            dir, R"({"allow": ["10.0.0.0/8", "192.168.0.0/16"]})",
            {{"10-web.json", R"({"allow": ["172.16.0.0/12"]})"},
             {"20-open.json",
              R"({"allow": ["192.0.2.0/24", {"net": "0.0.0.0/0", "comment": "x"}]})"}});
        CHECK(found == std::vector<ConfigWarning>{
                           {d + "20-open.json", "allow[1]: " + std::string(every_ipv4)}});
        CHECK(found[0].located("/etc/memguard.json") ==
              d + "20-open.json: allow[1]: " + std::string(every_ipv4));
    }
    SECTION("a guard of the main file, extended by name") {
        const auto found = loaded_warnings(
            dir, R"({"guards": [{"name": "pages", "ports": [11212], "allow": ["10.0.0.0/8"]},
                                {"name": "app", "ports": [11211], "allow": ["10.1.0.0/16"]}]})",
            {{"10-app.json", R"({"guards": [{"name": "app", "allow": ["127.0.0.1", "::/0"]}]})"}});
        REQUIRE(found.size() == 2);
        CHECK(found[0].file == d + "10-app.json");
        CHECK(found[0].text.starts_with("guards[0].allow[0]: 127.0.0.1 is a loopback address"));
        CHECK(found[1].file == d + "10-app.json");
        CHECK(found[1].text.starts_with("guards[0].allow[1]: ::/0 lets every IPv6 host in"));
    }
    SECTION("a guard the fragment defines") {
        const auto found =
            loaded_warnings(dir, R"({"allow": ["10.0.0.0/8"]})",
                            {{"30-pages.json", R"({"guards": [{"name": "pages", "ports": [11212],
                                               "allow": ["10.2.0.0/16", "0.0.0.0/0"]}]})"}});
        REQUIRE(found.size() == 1);
        CHECK(found[0].file == d + "30-pages.json");
        CHECK(found[0].text.starts_with("guards[0].allow[1]: 0.0.0.0/0 lets every IPv4 host in"));
    }
    SECTION("the main file's own entries still name the main file") {
        const auto found = loaded_warnings(dir, R"({"allow": ["10.0.0.0/8", "0.0.0.0/0"]})",
                                           {{"10-web.json", R"({"allow": ["172.16.0.0/12"]})"}});
        CHECK(found == std::vector<ConfigWarning>{{"", "allow[1]: " + std::string(every_ipv4)}});
        CHECK(found[0].located("/etc/memguard.json") ==
              "/etc/memguard.json: allow[1]: " + std::string(every_ipv4));
        CHECK(found[0].located("") == "allow[1]: " + std::string(every_ipv4));
    }
}
