// The legacy backend with several guards: the shared chains' rules, per-guard sets, labels in
// the accept rules' comments, what counts as ours, and what blocked() attributes to which
// protocol.
#include "support.hpp"

#include "legacy/allowset.hpp"
#include "legacy/diff.hpp"
#include "legacy/iptc/entry.hpp"
#include "legacy/legacy_backend.hpp"
#include "legacy/ownership.hpp"
#include "legacy/ruleset.hpp"

#include <string>
#include <vector>

using memguard::Claims;
using memguard::Family;
using memguard::Policy;
using memguard::Protocol;
using memguard::Rule;
using memguard::Ruleset;
using unit::guard;
using unit::kernel;
using unit::net;
using unit::specs;
using Specs = std::vector<std::string>;

namespace {

constexpr auto tcp = Protocol::tcp;
constexpr auto udp = Protocol::udp;

// Guard "app-cache": 11211 tcp+udp, 10.1.0.0/16 and the labelled 10.2.0.5 (and an IPv6
// network); guard "pages": 11212 and 11213, tcp only, 10.3.0.0/24.
Policy two_guards() {
    Policy p;
    auto a = guard("app-cache", {11211}, {tcp, udp},
                   {net("10.1.0.0/16"), net("10.2.0.5"), net("fd00:1::/64")});
    a.labels.emplace(net("10.2.0.5"), "batch host");
    p.guards = {a, guard("pages", {11212, 11213}, {tcp}, {net("10.3.0.0/24")})};
    return p;
}

const std::string tag = "-m comment --comment memguard";

std::string accept(const std::string& src, Protocol proto, int port,
                   const std::string& comment = tag) {
    const std::string p(memguard::to_string(proto));
    return "-s " + src + " -p " + p + " -m " + p + " --dport " + std::to_string(port) + " " +
           comment + " -j ACCEPT";
}

std::string jump(Protocol proto, int port) {
    const std::string p(memguard::to_string(proto));
    return "-p " + p + " -m " + p + " --dport " + std::to_string(port) + " " + tag + " -j MEMGUARD";
}

std::string dnat_jump(Protocol proto, int port) {
    return "-p " + std::string(memguard::to_string(proto)) +
           " -m conntrack --ctstate DNAT --ctorigdstport " + std::to_string(port) +
           " --ctdir ORIGINAL " + tag + " -j MEMGUARD";
}

const std::string lo_accept = "-i lo " + tag + " -j ACCEPT";
const std::string established = "-m conntrack --ctstate RELATED,ESTABLISHED " + tag + " -j ACCEPT";
const std::string tcp_drop = "-p tcp " + tag + " -j DROP";
const std::string drop = tag + " -j DROP";

} // namespace

TEST_CASE("guards: two guards share the chains, each accept rule matches its guard's ports") {
    const Ruleset v4 = memguard::build_ruleset(two_guards(), Family::ipv4);
    CHECK(specs(v4.jumps) ==
          Specs{jump(tcp, 11211), jump(udp, 11211), jump(tcp, 11212), jump(tcp, 11213)});
    const std::string batch = "-m comment --comment \"memguard: batch host\"";
    const Specs chain{lo_accept,
                      established,
                      accept("10.1.0.0/16", tcp, 11211),
                      accept("10.1.0.0/16", udp, 11211),
                      accept("10.2.0.5/32", tcp, 11211, batch),
                      accept("10.2.0.5/32", udp, 11211, batch),
                      accept("10.3.0.0/24", tcp, 11212),
                      accept("10.3.0.0/24", tcp, 11213),
                      tcp_drop,
                      drop};
    CHECK(specs(v4.chain) == chain);
    CHECK(specs(v4.mangle.jumps) == Specs{dnat_jump(tcp, 11211), dnat_jump(udp, 11211),
                                          dnat_jump(tcp, 11212), dnat_jump(tcp, 11213)});
    CHECK(specs(v4.mangle.chain) == chain);
    // Reverse-path drops for each guard's own reverse_path protocols and ports: only
    // app-cache's udp.
    CHECK(specs(v4.mangle.prerouting) ==
          Specs{"-p udp -m udp --dport 11211 -m addrtype --dst-type "
                "LOCAL,BROADCAST,ANYCAST,MULTICAST -m rpfilter --invert " +
                tag + " -j DROP"});
    CHECK(v4.sets.empty());

    const Ruleset v6 = memguard::build_ruleset(two_guards(), Family::ipv6);
    CHECK(specs(v6.chain) == Specs{lo_accept, established, accept("fd00:1::/64", tcp, 11211),
                                   accept("fd00:1::/64", udp, 11211), tcp_drop, drop});
}

TEST_CASE("guards: one protocol guarded in the family: one catch-all closing rule") {
    Policy p;
    p.guards = {guard("pages", {11212}, {tcp}, {net("10.3.0.0/24")})};
    const Ruleset v4 = memguard::build_ruleset(p, Family::ipv4);
    // One guard: today's layout, accept rules without protocol and port.
    CHECK(specs(v4.chain) ==
          Specs{lo_accept, established, "-s 10.3.0.0/24 " + tag + " -j ACCEPT", drop});
    CHECK(specs(v4.mangle.chain).back() == drop);
    CHECK(v4.mangle.prerouting.empty());
}

TEST_CASE("guards: fail-closed is loopback only on every port of every guard") {
    const auto closed = memguard::fail_closed_state({11212, 11213}).ipv4;
    const Ruleset r = memguard::build_ruleset(closed);
    CHECK(specs(r.chain) == Specs{lo_accept, tcp_drop, drop});
    CHECK(specs(r.jumps) == Specs{jump(tcp, 11211), jump(tcp, 11212), jump(tcp, 11213),
                                  jump(udp, 11211), jump(udp, 11212), jump(udp, 11213)});
    CHECK(memguard::all_ports(memguard::desired_family(two_guards(), Family::ipv4)) ==
          std::vector<std::uint16_t>{11211, 11212, 11213});
}

TEST_CASE("guards: a guard past the threshold gets its own set, named after it") {
    Policy p = two_guards();
    for (int i = 0; i < 17; ++i) {
        p.guards[1].allow.push_back(net("10.4." + std::to_string(i) + ".0/24"));
    }
    const Ruleset v4 = memguard::build_ruleset(p, Family::ipv4);
    REQUIRE(v4.sets.size() == 1);
    CHECK(v4.sets.begin()->first == "memguard4-pages");
    CHECK(v4.sets.begin()->second.size() == 18);
    const std::string on_set = " -m set --match-set memguard4-pages src " + tag + " -j ACCEPT";
    const auto chain = specs(v4.chain);
    CHECK(std::ranges::count(chain, "-p tcp -m tcp --dport 11212" + on_set) == 1);
    CHECK(std::ranges::count(chain, "-p tcp -m tcp --dport 11213" + on_set) == 1);
    CHECK(chain.size() == 2 + 4 + 2 + 2);

    // Somebody else's set under that name: the guard's networks get a rule each instead.
    Claims foreign;
    foreign.foreign_sets = {"memguard4-pages"};
    const Ruleset without =
        memguard::build_ruleset(memguard::desired_family(p, Family::ipv4), foreign);
    CHECK(without.sets.empty());
    CHECK(without.chain.size() == 2 + 4 + 18 * 2 + 2);

    // The default guard keeps memguard4; a guard's set name fits ipset's 31 characters.
    CHECK(memguard::set_name(Family::ipv6) == "memguard6");
    CHECK(memguard::set_name(Family::ipv6, "pages") == "memguard6-pages");
    CHECK(memguard::set_name(Family::ipv4, "abcdefghij0123456789").size() <= 31);
    CHECK(memguard::staging_name(Family::ipv4, "memguard4") == "memguard4-new");
    CHECK(memguard::staging_name(Family::ipv4, "memguard4-pages") == "memguard4-pages~");
}

TEST_CASE("guards: which set names are ours") {
    CHECK(memguard::is_our_set_name(Family::ipv4, "memguard4"));
    CHECK(memguard::is_our_set_name(Family::ipv4, "memguard4-app-cache"));
    CHECK(memguard::is_our_set_name(Family::ipv6, "memguard6-a_1"));
    CHECK_FALSE(memguard::is_our_set_name(Family::ipv4, "memguard6-pages"));
    CHECK_FALSE(memguard::is_our_set_name(Family::ipv4, "memguard4-"));
    CHECK_FALSE(memguard::is_our_set_name(Family::ipv4, "memguard4-Pages"));
    CHECK_FALSE(memguard::is_our_set_name(Family::ipv4, "memguard4--x"));
    CHECK_FALSE(memguard::is_our_set_name(Family::ipv4, "memguard4-default"));
    CHECK_FALSE(memguard::is_our_set_name(Family::ipv4, "memguard4-abcdefghij0123456789x"));
    CHECK_FALSE(memguard::is_our_set_name(Family::ipv4, "memguard4x"));
}

TEST_CASE("guards: a guard's set rule encodes and decodes back as ours") {
    const memguard::iptc::SetNames sets{
        [](const std::string& name) -> std::optional<std::uint16_t> {
            return name == "memguard4-pages" ? std::optional<std::uint16_t>(5) : std::nullopt;
        },
        [](std::uint16_t i) -> std::optional<std::string> {
            return i == 5 ? std::optional<std::string>("memguard4-pages") : std::nullopt;
        }};
    Rule r;
    r.proto = tcp;
    r.dport = 11212;
    r.src_set = "memguard4-pages";
    r.comment = "memguard";
    const auto bytes = memguard::iptc::encode_entry(r, sets);
    const auto back = memguard::iptc::decode_entry(Family::ipv4, bytes.bytes(), "ACCEPT", sets);
    REQUIRE(back.rule.has_value());
    CHECK(*back.rule == r);
}
