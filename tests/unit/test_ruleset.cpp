#include "support.hpp"

#include "config.hpp"
#include "legacy/ruleset.hpp"

#include <string>
#include <vector>

using memguard::Action;
using memguard::build_ruleset;
using memguard::Family;
using memguard::Policy;
using memguard::Protocol;
using memguard::Rule;
using memguard::Ruleset;
using memguard::Verdict;
using unit::net;
using unit::specs;
using Specs = std::vector<std::string>;

namespace {

const std::string tcp_jump =
    "-p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD";
const std::string udp_jump =
    "-p udp -m udp --dport 11211 -m comment --comment memguard -j MEMGUARD";
const std::string lo_accept = "-i lo -m comment --comment memguard -j ACCEPT";
const std::string established =
    "-m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment memguard -j ACCEPT";
const std::string tcp_drop = "-p tcp -m comment --comment memguard -j DROP";
const std::string drop = "-m comment --comment memguard -j DROP";
const std::string tcp_reset =
    "-p tcp -m comment --comment memguard -j REJECT --reject-with tcp-reset";
const std::string unreachable4 =
    "-m comment --comment memguard -j REJECT --reject-with icmp-port-unreachable";
const std::string unreachable6 =
    "-m comment --comment memguard -j REJECT --reject-with icmp6-port-unreachable";

std::string log_rule(unsigned rate, unsigned group) {
    return "-m limit --limit " + std::to_string(rate) + "/sec --limit-burst " +
           std::to_string(rate) +
           " -m comment --comment memguard -j NFLOG --nflog-prefix memguard --nflog-group " +
           std::to_string(group);
}

void check_family_and_tag(const Ruleset& set) {
    for (const auto* list : {&set.jumps, &set.chain}) {
        for (const auto& r : *list) {
            INFO(Catch::Detail::stringify(r));
            CHECK(r.family == set.family);
            CHECK(r.comment == "memguard");
        }
    }
}

} // namespace

TEST_CASE("ruleset: the seed policy gives exactly the design's rules") {
    const Policy p = memguard::parse_config(R"({
      "ports": [11211], "protocols": ["tcp", "udp"], "allow": ["192.168.1.0/24"],
      "allow_loopback": true, "accept_established": true, "action": "drop",
      "verify_interval_s": 5})");
    const auto v4 = build_ruleset(p, Family::ipv4);
    CHECK(v4.family == Family::ipv4);
    CHECK(specs(v4.jumps) == Specs{tcp_jump, udp_jump});
    CHECK(specs(v4.chain) == Specs{lo_accept, established,
                                   "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT",
                                   tcp_drop, drop});
    check_family_and_tag(v4);

    // IPv6 is guarded too, with the same jumps, even with no IPv6 network allowed.
    const auto v6 = build_ruleset(p, Family::ipv6);
    CHECK(v6.family == Family::ipv6);
    CHECK(specs(v6.jumps) == Specs{tcp_jump, udp_jump});
    CHECK(specs(v6.chain) == Specs{lo_accept, established, tcp_drop, drop});
    check_family_and_tag(v6);
}

TEST_CASE("ruleset: the rules are the plain data the strings say") {
    const auto v4 = build_ruleset(unit::seed_policy(), Family::ipv4);
    REQUIRE(v4.jumps.size() == 2);
    CHECK(v4.jumps[0].proto == Protocol::tcp);
    CHECK(v4.jumps[0].dport == std::uint16_t{11211});
    CHECK(v4.jumps[0].verdict == Verdict::jump_memguard);
    CHECK_FALSE(v4.jumps[0].src.has_value());
    CHECK(v4.jumps[0].in_iface.empty());
    CHECK(v4.jumps[1].proto == Protocol::udp);
    REQUIRE(v4.chain.size() == 5);
    CHECK(v4.chain[0].in_iface == "lo");
    CHECK(v4.chain[0].verdict == Verdict::accept);
    CHECK(v4.chain[1].related_established);
    CHECK(v4.chain[2].src == net("192.168.1.0/24"));
    CHECK_FALSE(v4.chain[2].proto.has_value());
    CHECK(v4.chain[3].verdict == Verdict::drop);
    CHECK(v4.chain[3].proto == Protocol::tcp);
    CHECK(v4.chain[4].verdict == Verdict::drop);
    CHECK_FALSE(v4.chain[4].proto.has_value());
}

TEST_CASE("ruleset: each network goes to its own family only - in order") {
    Policy p;
    p.guards.front().allow = {net("192.168.1.0/24"), net("fd12:3456::/48"), net("10.0.0.5"),
                              net("2001:db8::1"), net("172.16.0.0/12")};
    const auto v4 = build_ruleset(p, Family::ipv4);
    CHECK(specs(v4.chain) ==
          Specs{lo_accept, established, "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT",
                "-s 10.0.0.5/32 -m comment --comment memguard -j ACCEPT",
                "-s 172.16.0.0/12 -m comment --comment memguard -j ACCEPT", tcp_drop, drop});
    const auto v6 = build_ruleset(p, Family::ipv6);
    CHECK(specs(v6.chain) ==
          Specs{lo_accept, established, "-s fd12:3456::/48 -m comment --comment memguard -j ACCEPT",
                "-s 2001:db8::1/128 -m comment --comment memguard -j ACCEPT", tcp_drop, drop});
    for (const auto& set : {v4, v6}) {
        check_family_and_tag(set);
        for (const auto& r : set.chain) {
            if (r.src) {
                CHECK(r.src->family == set.family);
            }
        }
    }

    Policy only6;
    only6.guards.front().allow = {net("fd12:3456::/48")};
    CHECK(specs(build_ruleset(only6, Family::ipv4).chain) ==
          Specs{lo_accept, established, tcp_drop, drop});
}

TEST_CASE("ruleset: allow_loopback and accept_established false drop their rules") {
    Policy p = unit::seed_policy();
    const std::string allow = "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT";

    p.allow_loopback = false;
    CHECK(specs(build_ruleset(p, Family::ipv4).chain) == Specs{established, allow, tcp_drop, drop});
    CHECK(specs(build_ruleset(p, Family::ipv6).chain) == Specs{established, tcp_drop, drop});

    p.allow_loopback = true;
    p.accept_established = false;
    CHECK(specs(build_ruleset(p, Family::ipv4).chain) == Specs{lo_accept, allow, tcp_drop, drop});

    p.allow_loopback = false;
    CHECK(specs(build_ruleset(p, Family::ipv4).chain) == Specs{allow, tcp_drop, drop});
    CHECK(specs(build_ruleset(p, Family::ipv6).chain) == Specs{tcp_drop, drop});
    // The jumps do not depend on these.
    CHECK(specs(build_ruleset(p, Family::ipv4).jumps) == Specs{tcp_jump, udp_jump});
}

TEST_CASE("ruleset: action reject gives tcp-reset first - then port-unreachable") {
    Policy p = unit::seed_policy();
    p.action = Action::reject;
    const std::string allow = "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT";
    const auto v4 = build_ruleset(p, Family::ipv4);
    CHECK(specs(v4.chain) == Specs{lo_accept, established, allow, tcp_reset, unreachable4});
    REQUIRE(v4.chain.size() == 5);
    CHECK(v4.chain[3].verdict == Verdict::reject);
    CHECK(v4.chain[3].reject_with == memguard::RejectWith::tcp_reset);
    CHECK(v4.chain[3].proto == Protocol::tcp);
    CHECK_FALSE(v4.chain[3].dport.has_value());
    CHECK(v4.chain[4].reject_with == memguard::RejectWith::port_unreachable);
    CHECK_FALSE(v4.chain[4].proto.has_value());
    CHECK(specs(build_ruleset(p, Family::ipv6).chain) ==
          Specs{lo_accept, established, tcp_reset, unreachable6});

    SECTION("udp only: no tcp-reset rule") {
        p.guards.front().protocols = {Protocol::udp};
        CHECK(specs(build_ruleset(p, Family::ipv4).chain) ==
              Specs{lo_accept, established, allow, unreachable4});
        CHECK(specs(build_ruleset(p, Family::ipv6).chain) ==
              Specs{lo_accept, established, unreachable6});
        CHECK(specs(build_ruleset(p, Family::ipv4).jumps) == Specs{udp_jump});
    }
    SECTION("tcp only: both reject rules") {
        p.guards.front().protocols = {Protocol::tcp};
        CHECK(specs(build_ruleset(p, Family::ipv4).chain) ==
              Specs{lo_accept, established, allow, tcp_reset, unreachable4});
        CHECK(specs(build_ruleset(p, Family::ipv4).jumps) == Specs{tcp_jump});
    }
    SECTION("udp listed before tcp: tcp-reset still comes first") {
        p.guards.front().protocols = {Protocol::udp, Protocol::tcp};
        CHECK(specs(build_ruleset(p, Family::ipv4).chain) ==
              Specs{lo_accept, established, allow, tcp_reset, unreachable4});
    }
}

TEST_CASE("ruleset: log_blocked puts a rate-limited NFLOG rule right before the verdict") {
    Policy p = unit::seed_policy();
    CHECK_FALSE(p.log_blocked);
    const std::string allow = "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT";
    p.log_blocked = true;
    CHECK(specs(build_ruleset(p, Family::ipv4).chain) ==
          Specs{lo_accept, established, allow, log_rule(10, 11211), tcp_drop, drop});
    CHECK(specs(build_ruleset(p, Family::ipv6).chain) ==
          Specs{lo_accept, established, log_rule(10, 11211), tcp_drop, drop});

    p.log_group = 5;
    p.log_rate_per_s = 100;
    p.action = Action::reject;
    const auto v4 = build_ruleset(p, Family::ipv4);
    CHECK(specs(v4.chain) ==
          Specs{lo_accept, established, allow, log_rule(100, 5), tcp_reset, unreachable4});
    REQUIRE(v4.chain.size() == 6);
    const Rule& log = v4.chain[3];
    CHECK(log.verdict == Verdict::nflog);
    CHECK(log.nflog_group == 5);
    REQUIRE(log.limit.has_value());
    CHECK(log.limit->per_second == 100);
    CHECK(log.limit->burst == 100);
    CHECK_FALSE(log.proto.has_value());
    CHECK(log.comment == "memguard");
    // The jumps are the same with or without logging.
    CHECK(specs(v4.jumps) == Specs{tcp_jump, udp_jump});
}

TEST_CASE("ruleset: jumps are protocol-major in the policy's order") {
    Policy p;
    p.guards.front().ports = {11211, 22122, 80};
    p.guards.front().protocols = {Protocol::udp, Protocol::tcp};
    const auto jump = [](const char* proto, int port) {
        return std::string("-p ") + proto + " -m " + proto + " --dport " + std::to_string(port) +
               " -m comment --comment memguard -j MEMGUARD";
    };
    const Specs want{jump("udp", 11211), jump("udp", 22122), jump("udp", 80),
                     jump("tcp", 11211), jump("tcp", 22122), jump("tcp", 80)};
    CHECK(specs(build_ruleset(p, Family::ipv4).jumps) == want);
    CHECK(specs(build_ruleset(p, Family::ipv6).jumps) == want);
    // The chain is the same whatever the ports.
    CHECK(specs(build_ruleset(p, Family::ipv4).chain) ==
          Specs{lo_accept, established, tcp_drop, drop});
}

TEST_CASE("ruleset: fail-closed policy is loopback accept and drop only") {
    const Policy p = memguard::fail_closed_policy();
    CHECK(p.guards.front().allow.empty());
    CHECK_FALSE(p.log_blocked);
    CHECK(p.action == Action::drop);
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto set = build_ruleset(p, family);
        INFO(memguard::to_string(family));
        CHECK(specs(set.chain) == Specs{lo_accept, tcp_drop, drop});
        CHECK(specs(set.jumps) == Specs{tcp_jump, udp_jump});
        check_family_and_tag(set);
    }
}

TEST_CASE("ruleset: to_string spells every rule as iptables-save does") {
    Rule r;
    r.family = Family::ipv4;
    r.verdict = Verdict::accept;
    CHECK(memguard::to_string(r) == "-j ACCEPT");
    r.src = net("10.0.0.0/8");
    r.in_iface = "eth0";
    r.proto = Protocol::udp;
    r.dport = 53;
    r.related_established = true;
    r.comment = "memguard";
    CHECK(memguard::to_string(r) == "-s 10.0.0.0/8 -i eth0 -p udp -m udp --dport 53 -m conntrack "
                                    "--ctstate RELATED,ESTABLISHED -m comment --comment memguard "
                                    "-j ACCEPT");
    Rule h;
    h.family = Family::ipv6;
    h.src = net("2001:db8::1");
    h.verdict = Verdict::drop;
    CHECK(memguard::to_string(h) == "-s 2001:db8::1/128 -j DROP");
    h.verdict = Verdict::reject;
    CHECK(memguard::to_string(h) == "-s 2001:db8::1/128 -j REJECT --reject-with "
                                    "icmp6-port-unreachable");
}

TEST_CASE("ruleset: the same policy always gives the same rules") {
    const Policy p = unit::seed_policy();
    CHECK(build_ruleset(p, Family::ipv4) == build_ruleset(p, Family::ipv4));
    CHECK_FALSE(build_ruleset(p, Family::ipv4) == build_ruleset(p, Family::ipv6));
}
