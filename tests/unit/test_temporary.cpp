// Temporary allowlist entries (daemon/temporary.cpp): granted and revoked against the config,
// expired, added to the policy, and kept in the state file's text.
#include "support.hpp"

#include "config.hpp"
#include "temporary.hpp"

#include <stdexcept>
#include <string>
#include <vector>

using memguard::GrantRequest;
using memguard::ListedNames;
using memguard::parse_config;
using memguard::parse_iso8601;
using memguard::Policy;
using memguard::TemporaryList;
using memguard::WallSeconds;
using std::chrono::seconds;
using unit::net;

namespace {

const WallSeconds noon = *parse_iso8601("2026-12-06T12:00:00Z");
const ListedNames names{"/etc/memguard.json", "/var/lib/memguardd/temporary.json"};

const Policy one_guard = parse_config(R"({"allow": ["10.1.0.0/16", "fd00::7"]})");
const Policy two_guards = parse_config(R"({"guards": [
    {"name": "sessions", "ports": [11211], "allow": ["10.1.0.0/16"]},
    {"name": "pages", "ports": [11311], "allow": []}]})");

GrantRequest request(std::string target, seconds length = seconds(3600), std::string guard = "") {
    return {std::move(target), std::move(guard), std::nullopt, length};
}

// What grant (or revoke) refuses `target` with.
std::string grant_refusal(TemporaryList& list, const GrantRequest& r, const Policy& config) {
    try {
        list.grant(r, config, noon, names);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "granted";
}
std::string revoke_refusal(TemporaryList& list, const std::string& target, const Policy& config,
                           const std::string& guard = "") {
    try {
        list.revoke(target, guard, config, names);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "revoked";
}

} // namespace

TEST_CASE("temporary: UTC times in ISO 8601, both ways", "[temporary]") {
    CHECK(memguard::iso8601(noon) == "2026-12-06T12:00:00Z");
    CHECK(parse_iso8601("2026-12-06T12:00:00Z") == noon);
    CHECK_FALSE(parse_iso8601("2026-12-06 12:00:00"));
    CHECK_FALSE(parse_iso8601("2026-12-06T12:00:00Zjunk"));
}

TEST_CASE("temporary: a grant joins its guard's allowlist, labelled, listed in the state file",
          "[temporary]") {
    TemporaryList list;
    GrantRequest r = request("10.9.0.7", seconds(7200));
    r.comment = "vendor";
    const auto entry = list.grant(r, one_guard, noon, names);
    CHECK(entry.guard == "default");
    CHECK(entry.expires == noon + seconds(7200));
    const Policy policy = list.applied_to(one_guard, names.temporary_path);
    const auto& guard = policy.guards.front();
    REQUIRE(guard.allow.size() == 3);
    CHECK(guard.allow.back() == net("10.9.0.7"));
    CHECK(guard.labels.at(net("10.9.0.7")) == "vendor");
    CHECK(guard.listed_at.by_network.at(net("10.9.0.7")) ==
          memguard::ListedAt{names.temporary_path, "temporary[0]"});
    // Granted again: renewed from now, not listed twice.
    list.grant(request("10.9.0.7", seconds(60)), one_guard, noon + seconds(10), names);
    REQUIRE(list.entries().size() == 1);
    CHECK(list.entries().front().expires == noon + seconds(70));
}

TEST_CASE("temporary: grants the config makes pointless or wrong are refused", "[temporary]") {
    TemporaryList list;
    CHECK(grant_refusal(list, request("10.1.0.0/16"), one_guard) ==
          "10.1.0.0/16 is already allowed by /etc/memguard.json at allow[0] in guard default");
    CHECK(grant_refusal(list, request("10.1.2.3"), one_guard) ==
          "10.1.2.3 is already allowed by /etc/memguard.json at allow[0] (10.1.0.0/16) in guard "
          "default");
    CHECK(grant_refusal(list, request("10.9.0.7/24"), one_guard) ==
          "\"10.9.0.7/24\" has host bits set; did you mean \"10.9.0.0/24\"?");
    CHECK(grant_refusal(list, request("vendor.example"), one_guard) ==
          "\"vendor.example\" is not an IPv4 or IPv6 address or network");
    GrantRequest quoted = request("10.9.0.7");
    quoted.comment = "a \"quote\"";
    CHECK(grant_refusal(list, quoted, one_guard).starts_with("the comment "));
    CHECK(grant_refusal(list, request("10.9.0.7"), two_guards) ==
          "the config has 2 guards (sessions, pages): name one with --guard");
    CHECK(grant_refusal(list, request("10.9.0.7", seconds(60), "nope"), two_guards) ==
          "no guard \"nope\" in the config (its guards: sessions, pages)");
    CHECK(list.entries().empty());
    CHECK(grant_refusal(list, request("10.9.0.7", seconds(60), "pages"), two_guards) == "granted");
    CHECK(list.entries().front().guard == "pages");
}

TEST_CASE("temporary: revoke takes out a temporary entry, never a config one", "[temporary]") {
    TemporaryList list;
    list.grant(request("10.9.0.7"), one_guard, noon, names);
    CHECK(revoke_refusal(list, "10.1.0.0/16", one_guard) ==
          "10.1.0.0/16 is in the config, not a temporary entry: edit /etc/memguard.json at "
          "allow[0] to take it out, then reload");
    CHECK(revoke_refusal(list, "10.9.0.8", one_guard) == "no temporary entry for 10.9.0.8");
    CHECK(revoke_refusal(list, "10.9.0.7", one_guard) == "revoked");
    CHECK(list.entries().empty());
}

TEST_CASE("temporary: entries expire at their time, the next expiry first", "[temporary]") {
    TemporaryList list;
    list.grant(request("10.9.0.7", seconds(60)), one_guard, noon, names);
    list.grant(request("10.9.0.8", seconds(30)), one_guard, noon, names);
    CHECK(list.next_expiry() == noon + seconds(30));
    CHECK(list.expire(noon + seconds(29)).empty());
    const auto gone = list.expire(noon + seconds(30));
    REQUIRE(gone.size() == 1);
    CHECK(gone.front().network == net("10.9.0.8"));
    CHECK(list.next_expiry() == noon + seconds(60));
    CHECK(list.expire(noon + seconds(3600)).size() == 1);
    CHECK_FALSE(list.next_expiry());
}

TEST_CASE("temporary: the state file's text reads back; a bad entry is named and left out",
          "[temporary]") {
    TemporaryList list;
    GrantRequest r = request("fd00::/64", seconds(90));
    r.comment = "vendor";
    list.grant(r, one_guard, noon, names);
    std::vector<std::string> problems;
    const auto back = TemporaryList::parse(list.to_text(), problems);
    CHECK(problems.empty());
    REQUIRE(back.entries().size() == 1);
    CHECK(back.entries().front().network == net("fd00::/64"));
    CHECK(back.entries().front().comment == "vendor");
    CHECK(back.entries().front().expires == noon + seconds(90));
    CHECK(list.to_text().find("\"expires\": \"2026-12-06T12:01:30Z\"") != std::string::npos);

    const auto mixed = TemporaryList::parse(
        R"({"temporary": [
            {"guard": "default", "net": "10.0.0.1/8", "granted": "2026-12-06T12:00:00Z",
             "expires": "2026-12-06T13:00:00Z"},
            {"guard": "default", "net": "10.9.0.7", "comment": null,
             "granted": "2026-12-06T12:00:00Z", "expires": "2026-12-06T13:00:00Z"}]})",
        problems);
    REQUIRE(problems.size() == 1);
    CHECK(problems.front().starts_with("temporary[0]: \"10.0.0.1/8\" has host bits set"));
    CHECK(mixed.entries().size() == 1);
    problems.clear();
    CHECK(TemporaryList::parse("{", problems).entries().empty());
    CHECK(problems.size() == 1);
}

TEST_CASE("temporary: an entry the config now lists itself, or whose guard went, adds nothing",
          "[temporary]") {
    TemporaryList list;
    list.grant(request("10.9.0.7", seconds(60), "pages"), two_guards, noon, names);
    list.grant(request("10.9.0.8"), one_guard, noon, names);
    const Policy later = parse_config(R"({"allow": ["10.9.0.8"]})");
    const Policy policy = list.applied_to(later, names.temporary_path);
    CHECK(policy == later);
    CHECK(policy.guards.front().listed_at.by_network.at(net("10.9.0.8")).file.empty());
}
