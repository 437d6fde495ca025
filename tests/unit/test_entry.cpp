#include "support.hpp"

#include "legacy/diff.hpp"
#include "legacy/iptc/entry.hpp"
#include "legacy/ruleset.hpp"

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_NFLOG.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

using memguard::Family;
using memguard::Policy;
using memguard::Protocol;
using memguard::Rule;
using memguard::Verdict;
using memguard::iptc::decode_entry;
using memguard::iptc::encode_entry;
using memguard::iptc::EntryBytes;
using memguard::iptc::EntryError;
using unit::net;
using unit::target_of;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes raw(const EntryBytes& e) {
    return {e.bytes().begin(), e.bytes().end()};
}

template <class T> T get(const Bytes& b, std::size_t at) {
    REQUIRE(at + sizeof(T) <= b.size());
    T value;
    std::memcpy(&value, b.data() + at, sizeof(T));
    return value;
}

template <class T> void put(Bytes& b, std::size_t at, const T& value) {
    REQUIRE(at + sizeof(T) <= b.size());
    std::memcpy(b.data() + at, &value, sizeof(T));
}

std::size_t entry_size(Family f) {
    return f == Family::ipv4 ? sizeof(ipt_entry) : sizeof(ip6t_entry);
}

// target_offset and next_offset sit at different places in the two entry structs.
std::uint16_t target_offset(const Bytes& b, Family f) {
    return f == Family::ipv4 ? get<ipt_entry>(b, 0).target_offset
                             : get<ip6t_entry>(b, 0).target_offset;
}
std::uint16_t next_offset(const Bytes& b, Family f) {
    return f == Family::ipv4 ? get<ipt_entry>(b, 0).next_offset : get<ip6t_entry>(b, 0).next_offset;
}
void set_offsets(Bytes& b, Family f, std::size_t target, std::size_t next) {
    if (f == Family::ipv4) {
        auto e = get<ipt_entry>(b, 0);
        e.target_offset = static_cast<std::uint16_t>(target);
        e.next_offset = static_cast<std::uint16_t>(next);
        put(b, 0, e);
    } else {
        auto e = get<ip6t_entry>(b, 0);
        e.target_offset = static_cast<std::uint16_t>(target);
        e.next_offset = static_cast<std::uint16_t>(next);
        put(b, 0, e);
    }
}

memguard::iptc::DecodedEntry decode(Family f, const Bytes& b, const std::string& target) {
    return decode_entry(f, std::span<const std::uint8_t>(b.data(), b.size()), target);
}

// The policies whose rules, together, are every kind of rule build_ruleset writes.
std::vector<Policy> policies() {
    std::vector<Policy> out;
    out.push_back(unit::seed_policy());
    out.push_back(memguard::fail_closed_policy());
    Policy p;
    p.guards.front().ports = {1, 11211, 65535};
    p.guards.front().protocols = {Protocol::udp, Protocol::tcp};
    p.guards.front().allow = {net("192.168.1.0/24"), net("10.0.0.0/8"),     net("203.0.113.7"),
                              net("128.0.0.0/1"),    net("fd12:3456::/48"), net("2001:db8::1"),
                              net("fe80::/10"),      net("8000::/1")};
    p.action = memguard::Action::reject;
    out.push_back(p);
    p.guards.front().protocols = {Protocol::udp};
    p.allow_loopback = false;
    p.accept_established = false;
    out.push_back(p);
    p.guards.front().protocols = {Protocol::tcp};
    out.push_back(p);
    // The audit rule, with rates that are a whole number of 1/10000 s apart.
    Policy logged = unit::seed_policy();
    logged.log_blocked = true;
    out.push_back(logged); // 10/sec, group 11211
    for (const auto& [rate, group] : {std::pair{1u, 1}, std::pair{2u, 65535}, std::pair{16u, 7},
                                      std::pair{1000u, 42}, std::pair{10000u, 100}}) {
        logged.log_rate_per_s = rate;
        logged.log_group = static_cast<std::uint16_t>(group);
        logged.action = rate % 2 == 0 ? memguard::Action::reject : memguard::Action::drop;
        out.push_back(logged);
    }
    return out;
}

std::vector<Rule> all_rules(const Policy& p, Family f) {
    const auto set = memguard::build_ruleset(p, f);
    std::vector<Rule> out = set.jumps;
    out.insert(out.end(), set.chain.begin(), set.chain.end());
    // and the mangle table's: reverse-path drops, DNAT jumps, the chain
    for (const auto* part : {&set.mangle.prerouting, &set.mangle.jumps, &set.mangle.chain}) {
        out.insert(out.end(), part->begin(), part->end());
    }
    return out;
}

Rule find_rule(Family f, const std::string& spec) {
    for (const auto& p : policies()) {
        for (const auto& r : all_rules(p, f)) {
            if (memguard::to_string(r) == spec) {
                return r;
            }
        }
    }
    FAIL("no policy makes " << spec);
    return {};
}

const std::string tcp_jump =
    "-p tcp -m tcp --dport 11211 -m comment --comment memguard -j MEMGUARD";
const std::string udp_jump =
    "-p udp -m udp --dport 11211 -m comment --comment memguard -j MEMGUARD";
const std::string lo_accept = "-i lo -m comment --comment memguard -j ACCEPT";
const std::string established =
    "-m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment memguard -j ACCEPT";

std::string hex(const Bytes& b) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < b.size(); ++i) {
        out += (i % 32 == 0) ? "\n  " : (i % 8 == 0 ? "  " : " ");
        out += digits[b[i] >> 4];
        out += digits[b[i] & 15];
    }
    return out;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Round trip

TEST_CASE("entry: every rule the ruleset writes decodes back to itself") {
    std::size_t count = 0;
    for (const auto& policy : policies()) {
        for (const auto family : {Family::ipv4, Family::ipv6}) {
            for (const auto& rule : all_rules(policy, family)) {
                INFO(Catch::Detail::stringify(rule));
                const auto bytes = encode_entry(rule);
                INFO("bytes:" << hex(raw(bytes)));
                CHECK(bytes.size() == next_offset(raw(bytes), family));
                const auto decoded = decode_entry(family, bytes.bytes(), target_of(rule));
                CHECK(decoded.comment == "memguard");
                CHECK(decoded.packets == 0);
                CHECK(decoded.bytes == 0);
                REQUIRE(decoded.rule.has_value());
                CHECK(*decoded.rule == rule);
                ++count;
            }
        }
    }
    // The set above covers jumps, lo, established, v4/v6 networks and hosts, drop and rejects.
    CHECK(count > 40);
}

TEST_CASE("entry: allowing everybody (0.0.0.0/0 or ::/0) round-trips") {
    // A /0 network encodes as an all-zero address and mask, the same as "no -s at all";
    // the decoded rule must still equal the desired one, or every verify pass sees drift.
    Policy p;
    p.guards.front().allow = {net("0.0.0.0/0"), net("::/0")};
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto set = memguard::build_ruleset(p, family);
        for (const auto& rule : set.chain) {
            INFO(Catch::Detail::stringify(rule));
            const auto decoded = decode_entry(family, encode_entry(rule).bytes(), target_of(rule));
            REQUIRE(decoded.rule.has_value());
            CHECK(*decoded.rule == rule);
        }
        // What the guard would see after applying its own plan: nothing to repair.
        memguard::KernelView view;
        view.family = family;
        view.chain_exists = true;
        for (const auto* list : {&set.chain, &set.jumps}) {
            for (const auto& rule : *list) {
                const auto d = decode_entry(family, encode_entry(rule).bytes(), target_of(rule));
                (list == &set.chain ? view.chain : view.input)
                    .push_back({d.rule, d.comment, target_of(rule), 0, 0});
            }
        }
        const auto c = memguard::compare(set, view);
        for (const auto& d : c.drift) {
            UNSCOPED_INFO(d.describe());
        }
        CHECK(c.drift.empty());
        CHECK(c.plan.empty());
    }
}

TEST_CASE("entry: the audit rule round-trips for every rate the config accepts") {
    // log_rate_per_s may be anything from 1 to 10000; the limit match stores 10000 / rate
    // (rounded down, as libxt_limit does), and iptables-save prints 10000 / avg back.
    for (const std::uint32_t rate : {3u, 7u, 30u, 300u, 3000u, 9999u}) {
        Policy p = unit::seed_policy();
        p.log_blocked = true;
        p.log_rate_per_s = rate;
        for (const auto family : {Family::ipv4, Family::ipv6}) {
            for (const auto& rule : memguard::build_ruleset(p, family).chain) {
                if (rule.verdict != Verdict::nflog) {
                    continue;
                }
                INFO(Catch::Detail::stringify(rule));
                const auto d = decode_entry(family, encode_entry(rule).bytes(), target_of(rule));
                CHECK(d.comment == "memguard");
                CHECK(d.rule == std::optional<Rule>(rule));
            }
        }
    }
}

TEST_CASE("entry: our own entries read back as in sync for every policy") {
    for (const auto& policy : policies()) {
        for (const auto family : {Family::ipv4, Family::ipv6}) {
            const auto set = memguard::build_ruleset(policy, family);
            memguard::KernelView view;
            view.family = family;
            view.chain_exists = true;
            for (const auto& rule : set.chain) {
                const auto d = decode_entry(family, encode_entry(rule).bytes(), target_of(rule));
                view.chain.push_back({d.rule, d.comment, target_of(rule), 0, 0});
            }
            for (const auto& rule : set.jumps) {
                const auto d = decode_entry(family, encode_entry(rule).bytes(), target_of(rule));
                view.input.push_back({d.rule, d.comment, target_of(rule), 0, 0});
            }
            const auto c = memguard::compare(set, view);
            CHECK(c.drift.empty());
            CHECK(c.plan.empty());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inconsistent bytes

TEST_CASE("entry: truncated bytes are refused") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    INFO(memguard::to_string(family));
    const Bytes b = raw(encode_entry(find_rule(family, tcp_jump)));
    for (const std::size_t keep :
         {std::size_t{0}, std::size_t{1}, entry_size(family) - 1, entry_size(family),
          entry_size(family) + 8, b.size() - 8, b.size() - 1}) {
        INFO("keep " << keep << " of " << b.size());
        const Bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(keep));
        CHECK_THROWS_AS(decode(family, cut, "MEMGUARD"), EntryError);
    }
}

TEST_CASE("entry: next_offset must be the size of the bytes") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    INFO(memguard::to_string(family));
    Bytes b = raw(encode_entry(find_rule(family, lo_accept)));
    const auto target = target_offset(b, family);
    const auto next = next_offset(b, family);

    SECTION("bytes longer than next_offset") {
        b.resize(b.size() + 8, 0);
        CHECK_THROWS_AS(decode(family, b, "ACCEPT"), EntryError);
    }
    SECTION("next_offset larger than the bytes") {
        set_offsets(b, family, target, next + 8u);
        CHECK_THROWS_AS(decode(family, b, "ACCEPT"), EntryError);
    }
    SECTION("next_offset smaller than the bytes") {
        set_offsets(b, family, target, next - 8u);
        CHECK_THROWS_AS(decode(family, b, "ACCEPT"), EntryError);
    }
}

TEST_CASE("entry: target_offset out of place is refused") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    INFO(memguard::to_string(family));
    Bytes b = raw(encode_entry(find_rule(family, tcp_jump)));
    const auto next = next_offset(b, family);
    for (const std::size_t target :
         {std::size_t{next} + 8, std::size_t{next}, std::size_t{next} - 8, std::size_t{0},
          entry_size(family) - 8, std::size_t{0xFFFF}}) {
        INFO("target_offset " << target << ", next_offset " << next);
        Bytes bad = b;
        set_offsets(bad, family, target, next);
        CHECK_THROWS_AS(decode(family, bad, "MEMGUARD"), EntryError);
    }
}

TEST_CASE("entry: a match whose size runs past the target is refused") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    INFO(memguard::to_string(family));
    Bytes b = raw(encode_entry(find_rule(family, tcp_jump)));
    const std::size_t first = entry_size(family);
    const auto target = target_offset(b, family);
    auto m = get<xt_entry_match>(b, first);
    REQUIRE(std::string(m.u.user.name) == "tcp");

    for (const std::size_t size : {std::size_t{target} - first + 8, std::size_t{0xFFF8},
                                   std::size_t{0}, sizeof(xt_entry_match) - 8}) {
        INFO("first match size " << size);
        Bytes bad = b;
        m.u.user.match_size = static_cast<std::uint16_t>(size);
        put(bad, first, m);
        CHECK_THROWS_AS(decode(family, bad, "MEMGUARD"), EntryError);
    }
    SECTION("the last match running into the target") {
        // The comment match is last; growing it by 8 makes it end inside the target.
        const std::size_t comment_at =
            target - (sizeof(xt_entry_match) + XT_ALIGN(sizeof(xt_comment_info)));
        auto c = get<xt_entry_match>(b, comment_at);
        REQUIRE(std::string(c.u.user.name) == "comment");
        c.u.user.match_size = static_cast<std::uint16_t>(c.u.user.match_size + 8);
        put(b, comment_at, c);
        CHECK_THROWS_AS(decode(family, b, "MEMGUARD"), EntryError);
    }
}

TEST_CASE("entry: a target size that does not fill the entry is refused") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    Bytes b = raw(encode_entry(find_rule(family, lo_accept)));
    const auto target = target_offset(b, family);
    auto t = get<xt_entry_target>(b, target);
    t.u.user.target_size = static_cast<std::uint16_t>(t.u.user.target_size - 8);
    put(b, target, t);
    CHECK_THROWS_AS(decode(family, b, "ACCEPT"), EntryError);
}

// ---------------------------------------------------------------------------------------------
// Entries that are not ours: no rule, but the comment

TEST_CASE("entry: an unknown match name makes the rule unreadable - the comment stays") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    INFO(memguard::to_string(family));
    Bytes b = raw(encode_entry(find_rule(family, established)));
    const std::size_t first = entry_size(family);
    auto m = get<xt_entry_match>(b, first);
    REQUIRE(std::string(m.u.user.name) == "conntrack");
    std::memset(m.u.user.name, 0, sizeof m.u.user.name);
    std::strcpy(m.u.user.name, "connmark");
    put(b, first, m);
    const auto d = decode(family, b, "ACCEPT");
    CHECK_FALSE(d.rule.has_value());
    CHECK(d.comment == "memguard");
}

TEST_CASE("entry: a wrong conntrack state or match revision is not ours") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    Bytes b = raw(encode_entry(find_rule(family, established)));
    const std::size_t first = entry_size(family);
    SECTION("state NEW") {
        auto info = get<xt_conntrack_mtinfo3>(b, first + sizeof(xt_entry_match));
        info.state_mask = XT_CONNTRACK_STATE_BIT(IP_CT_NEW);
        put(b, first + sizeof(xt_entry_match), info);
    }
    SECTION("inverted state") {
        auto info = get<xt_conntrack_mtinfo3>(b, first + sizeof(xt_entry_match));
        info.invert_flags = XT_CONNTRACK_STATE;
        put(b, first + sizeof(xt_entry_match), info);
    }
    SECTION("revision 2") {
        auto m = get<xt_entry_match>(b, first);
        m.u.user.revision = 2;
        put(b, first, m);
    }
    const auto d = decode(family, b, "ACCEPT");
    CHECK_FALSE(d.rule.has_value());
    CHECK(d.comment == "memguard");
}

TEST_CASE("entry: a port range or source port is not ours") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    Bytes b = raw(encode_entry(find_rule(family, tcp_jump)));
    const std::size_t info_at = entry_size(family) + sizeof(xt_entry_match);
    auto tcp = get<xt_tcp>(b, info_at);
    SECTION("dport range") {
        tcp.dpts[1] = 11300;
    }
    SECTION("sport") {
        tcp.spts[0] = tcp.spts[1] = 1024;
    }
    SECTION("inverted dport") {
        tcp.invflags = XT_TCP_INV_DSTPT;
    }
    SECTION("tcp flags") {
        tcp.flg_mask = tcp.flg_cmp = 0x02;
    }
    put(b, info_at, tcp);
    const auto d = decode(family, b, "MEMGUARD");
    CHECK_FALSE(d.rule.has_value());
    CHECK(d.comment == "memguard");
}

TEST_CASE("entry: a non-contiguous source mask makes the rule unreadable") {
    SECTION("ipv4") {
        Bytes b = raw(encode_entry(
            find_rule(Family::ipv4, "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT")));
        auto e = get<ipt_entry>(b, 0);
        const std::uint8_t mask[4] = {255, 0, 255, 0};
        std::memcpy(&e.ip.smsk, mask, 4);
        const std::uint8_t addr[4] = {192, 0, 1, 0};
        std::memcpy(&e.ip.src, addr, 4);
        put(b, 0, e);
        const auto d = decode(Family::ipv4, b, "ACCEPT");
        CHECK_FALSE(d.rule.has_value());
        CHECK(d.comment == "memguard");
    }
    SECTION("ipv6") {
        Bytes b = raw(encode_entry(
            find_rule(Family::ipv6, "-s fd12:3456::/48 -m comment --comment memguard -j ACCEPT")));
        auto e = get<ip6t_entry>(b, 0);
        std::uint8_t mask[16] = {};
        mask[0] = 0xff;
        mask[15] = 0xff;
        std::memcpy(&e.ipv6.smsk, mask, 16);
        put(b, 0, e);
        const auto d = decode(Family::ipv6, b, "ACCEPT");
        CHECK_FALSE(d.rule.has_value());
        CHECK(d.comment == "memguard");
    }
    SECTION("host bits under a contiguous mask") {
        Bytes b = raw(encode_entry(
            find_rule(Family::ipv4, "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT")));
        auto e = get<ipt_entry>(b, 0);
        const std::uint8_t addr[4] = {192, 168, 1, 5};
        std::memcpy(&e.ip.src, addr, 4);
        put(b, 0, e);
        const auto d = decode(Family::ipv4, b, "ACCEPT");
        CHECK_FALSE(d.rule.has_value());
        CHECK(d.comment == "memguard");
    }
}

TEST_CASE("entry: an inverted flag makes the rule unreadable") {
    SECTION("ipv4 ! -s") {
        Bytes b = raw(encode_entry(
            find_rule(Family::ipv4, "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT")));
        auto e = get<ipt_entry>(b, 0);
        e.ip.invflags = IPT_INV_SRCIP;
        put(b, 0, e);
        const auto d = decode(Family::ipv4, b, "ACCEPT");
        CHECK_FALSE(d.rule.has_value());
        CHECK(d.comment == "memguard");
    }
    SECTION("ipv4 ! -i lo") {
        Bytes b = raw(encode_entry(find_rule(Family::ipv4, lo_accept)));
        auto e = get<ipt_entry>(b, 0);
        e.ip.invflags = IPT_INV_VIA_IN;
        put(b, 0, e);
        CHECK_FALSE(decode(Family::ipv4, b, "ACCEPT").rule.has_value());
    }
    SECTION("ipv6 ! -p tcp") {
        Bytes b = raw(encode_entry(find_rule(Family::ipv6, tcp_jump)));
        auto e = get<ip6t_entry>(b, 0);
        e.ipv6.invflags = IP6T_INV_PROTO;
        put(b, 0, e);
        const auto d = decode(Family::ipv6, b, "MEMGUARD");
        CHECK_FALSE(d.rule.has_value());
        CHECK(d.comment == "memguard");
    }
}

TEST_CASE("entry: other header fields we never set make the rule unreadable") {
    SECTION("ipv4 destination") {
        Bytes b = raw(encode_entry(find_rule(Family::ipv4, lo_accept)));
        auto e = get<ipt_entry>(b, 0);
        e.ip.dst.s_addr = htonl(0x0a000001);
        e.ip.dmsk.s_addr = 0xffffffff;
        put(b, 0, e);
        CHECK_FALSE(decode(Family::ipv4, b, "ACCEPT").rule.has_value());
    }
    SECTION("ipv4 -o eth0") {
        Bytes b = raw(encode_entry(find_rule(Family::ipv4, lo_accept)));
        auto e = get<ipt_entry>(b, 0);
        std::strcpy(e.ip.outiface, "eth0");
        std::memset(e.ip.outiface_mask, 0xff, 5);
        put(b, 0, e);
        CHECK_FALSE(decode(Family::ipv4, b, "ACCEPT").rule.has_value());
    }
    SECTION("ipv4 -i lo+ (wildcard mask)") {
        Bytes b = raw(encode_entry(find_rule(Family::ipv4, lo_accept)));
        auto e = get<ipt_entry>(b, 0);
        std::memset(e.ip.iniface_mask, 0, sizeof e.ip.iniface_mask);
        std::memset(e.ip.iniface_mask, 0xff, 2);
        put(b, 0, e);
        CHECK_FALSE(decode(Family::ipv4, b, "ACCEPT").rule.has_value());
    }
    SECTION("ipv4 -p icmp") {
        Bytes b = raw(encode_entry(find_rule(Family::ipv4, lo_accept)));
        auto e = get<ipt_entry>(b, 0);
        e.ip.proto = IPPROTO_ICMP;
        put(b, 0, e);
        CHECK_FALSE(decode(Family::ipv4, b, "ACCEPT").rule.has_value());
    }
    SECTION("ipv6 -p tcp without IP6T_F_PROTO") {
        Bytes b = raw(encode_entry(find_rule(Family::ipv6, tcp_jump)));
        auto e = get<ip6t_entry>(b, 0);
        e.ipv6.flags = 0;
        put(b, 0, e);
        CHECK_FALSE(decode(Family::ipv6, b, "MEMGUARD").rule.has_value());
    }
    SECTION("ipv4 -g MEMGUARD (goto, not jump)") {
        Bytes b = raw(encode_entry(find_rule(Family::ipv4, tcp_jump)));
        auto e = get<ipt_entry>(b, 0);
        e.ip.flags = IPT_F_GOTO;
        put(b, 0, e);
        CHECK_FALSE(decode(Family::ipv4, b, "MEMGUARD").rule.has_value());
    }
}

TEST_CASE("entry: an unknown target makes the rule unreadable - the comment stays") {
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    INFO(memguard::to_string(family));
    const Bytes b = raw(encode_entry(find_rule(family, lo_accept)));
    for (const std::string target : {"LOG", "RETURN", "DOCKER-USER", "", "MEMGUARD2"}) {
        INFO("target " << target);
        const auto d = decode(family, b, target);
        CHECK_FALSE(d.rule.has_value());
        CHECK(d.comment == "memguard");
    }
    // The standard target's bytes read as a REJECT target do not fit either.
    CHECK_FALSE(decode(family, b, "REJECT").rule.has_value());
    // And the verdict follows the name libiptc gives.
    const auto as_drop = decode(family, b, "DROP");
    REQUIRE(as_drop.rule.has_value());
    CHECK(as_drop.rule->verdict == Verdict::drop);
}

TEST_CASE("entry: a REJECT with another icmp type is not ours") {
    SECTION("ipv4 host-unreachable") {
        Bytes b = raw(encode_entry(
            find_rule(Family::ipv4, "-m comment --comment memguard -j REJECT --reject-with "
                                    "icmp-port-unreachable")));
        const auto target = target_offset(b, Family::ipv4);
        put(b, target + sizeof(xt_entry_target), ipt_reject_info{IPT_ICMP_HOST_UNREACHABLE});
        const auto d = decode(Family::ipv4, b, "REJECT");
        CHECK_FALSE(d.rule.has_value());
        CHECK(d.comment == "memguard");
    }
    SECTION("ipv6 adm-prohibited") {
        Bytes b = raw(encode_entry(
            find_rule(Family::ipv6, "-m comment --comment memguard -j REJECT --reject-with "
                                    "icmp6-port-unreachable")));
        const auto target = target_offset(b, Family::ipv6);
        put(b, target + sizeof(xt_entry_target), ip6t_reject_info{IP6T_ICMP6_ADM_PROHIBITED});
        CHECK_FALSE(decode(Family::ipv6, b, "REJECT").rule.has_value());
    }
}

TEST_CASE("entry: an NFLOG target that is not ours is unreadable") {
    Policy p = unit::seed_policy();
    p.log_blocked = true;
    const auto chain = memguard::build_ruleset(p, Family::ipv4).chain;
    const auto log = std::find_if(chain.begin(), chain.end(),
                                  [](const Rule& r) { return r.verdict == Verdict::nflog; });
    REQUIRE(log != chain.end());
    Bytes b = raw(encode_entry(*log));
    const auto target = target_offset(b, Family::ipv4);
    const std::size_t info_at = target + sizeof(xt_entry_target);
    auto info = get<xt_nflog_info>(b, info_at);
    SECTION("another prefix") {
        std::memset(info.prefix, 0, sizeof info.prefix);
        std::strcpy(info.prefix, "docker");
    }
    SECTION("a copy length") {
        info.flags = XT_NFLOG_F_COPY_LEN;
        info.len = 128;
    }
    SECTION("a threshold") {
        info.threshold = 5;
    }
    put(b, info_at, info);
    const auto d = decode(Family::ipv4, b, "NFLOG");
    CHECK_FALSE(d.rule.has_value());
    CHECK(d.comment == "memguard");
}

TEST_CASE("entry: a foreign rule without a comment decodes with an empty comment") {
    Rule ssh;
    ssh.family = Family::ipv4;
    ssh.proto = Protocol::tcp;
    ssh.dport = 22;
    ssh.verdict = Verdict::accept;
    const auto d = decode_entry(Family::ipv4, encode_entry(ssh).bytes(), "ACCEPT");
    CHECK(d.comment.empty());
    REQUIRE(d.rule.has_value());
    CHECK(*d.rule == ssh);
}

TEST_CASE("entry: counters are read") {
    Bytes b = raw(encode_entry(find_rule(Family::ipv4, lo_accept)));
    auto e = get<ipt_entry>(b, 0);
    e.counters.pcnt = 42;
    e.counters.bcnt = 4200;
    put(b, 0, e);
    const auto d = decode(Family::ipv4, b, "ACCEPT");
    CHECK(d.packets == 42);
    CHECK(d.bytes == 4200);
    CHECK(d.rule.has_value());
}

// ---------------------------------------------------------------------------------------------
// The bytes themselves, as iptables-legacy would write them

TEST_CASE("entry: every entry is 8-byte aligned in its offsets") {
    for (const auto& policy : policies()) {
        for (const auto family : {Family::ipv4, Family::ipv6}) {
            for (const auto& rule : all_rules(policy, family)) {
                INFO(Catch::Detail::stringify(rule));
                const Bytes b = raw(encode_entry(rule));
                CHECK(next_offset(b, family) % 8 == 0);
                CHECK(target_offset(b, family) % 8 == 0);
                CHECK(b.size() == next_offset(b, family));
                CHECK(target_offset(b, family) >= entry_size(family));
            }
        }
    }
}

TEST_CASE("entry: the IPv6 tcp jump sets IP6T_F_PROTO - the IPv4 one no flags") {
    const Bytes b6 = raw(encode_entry(find_rule(Family::ipv6, tcp_jump)));
    const auto e6 = get<ip6t_entry>(b6, 0);
    CHECK(e6.ipv6.proto == IPPROTO_TCP);
    CHECK((e6.ipv6.flags & IP6T_F_PROTO) != 0);
    CHECK(e6.ipv6.invflags == 0);

    const Bytes u6 = raw(encode_entry(find_rule(Family::ipv6, udp_jump)));
    CHECK(get<ip6t_entry>(u6, 0).ipv6.proto == IPPROTO_UDP);
    CHECK((get<ip6t_entry>(u6, 0).ipv6.flags & IP6T_F_PROTO) != 0);

    const Bytes b4 = raw(encode_entry(find_rule(Family::ipv4, tcp_jump)));
    const auto e4 = get<ipt_entry>(b4, 0);
    CHECK(e4.ip.proto == IPPROTO_TCP);
    CHECK(e4.ip.flags == 0);
    CHECK(e4.ip.invflags == 0);

    // Without -p there is no protocol and no flag.
    const Bytes lo6 = raw(encode_entry(find_rule(Family::ipv6, lo_accept)));
    CHECK(get<ip6t_entry>(lo6, 0).ipv6.proto == 0);
    CHECK(get<ip6t_entry>(lo6, 0).ipv6.flags == 0);
}

TEST_CASE("entry: -i lo masks exactly the name and its NUL") {
    const Bytes b4 = raw(encode_entry(find_rule(Family::ipv4, lo_accept)));
    const auto e4 = get<ipt_entry>(b4, 0);
    CHECK(std::string(e4.ip.iniface) == "lo");
    const Bytes b6 = raw(encode_entry(find_rule(Family::ipv6, lo_accept)));
    const auto e6 = get<ip6t_entry>(b6, 0);
    CHECK(std::string(e6.ipv6.iniface) == "lo");
    for (const unsigned char* mask : {e4.ip.iniface_mask, e6.ipv6.iniface_mask}) {
        for (std::size_t i = 0; i < IFNAMSIZ; ++i) {
            INFO("iniface_mask[" << i << "]");
            CHECK(int{mask[i]} == (i < 3 ? 0xFF : 0));
        }
    }
    for (std::size_t i = 2; i < IFNAMSIZ; ++i) {
        CHECK(e4.ip.iniface[i] == 0);
    }
    // No other interface or address is set.
    const auto zero = [](const auto& field) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(&field);
        for (std::size_t i = 0; i < sizeof field; ++i) {
            if (p[i] != 0) {
                return false;
            }
        }
        return true;
    };
    CHECK(zero(e4.ip.outiface_mask));
    CHECK(zero(e4.ip.src));
    CHECK(zero(e4.ip.smsk));
    CHECK(zero(e6.ipv6.src));
    CHECK(zero(e6.ipv6.smsk));
    CHECK(zero(e6.ipv6.dst));
}

TEST_CASE("entry: the port match holds the port in host order - sports 0-65535") {
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        INFO(memguard::to_string(family));
        const Bytes b = raw(encode_entry(find_rule(family, tcp_jump)));
        const std::size_t at = entry_size(family);
        const auto m = get<xt_entry_match>(b, at);
        CHECK(std::string(m.u.user.name) == "tcp");
        CHECK(m.u.user.revision == 0);
        CHECK(m.u.user.match_size == sizeof(xt_entry_match) + XT_ALIGN(sizeof(xt_tcp)));
        const auto tcp = get<xt_tcp>(b, at + sizeof(xt_entry_match));
        CHECK(tcp.dpts[0] == 11211);
        CHECK(tcp.dpts[1] == 11211);
        CHECK(tcp.spts[0] == 0);
        CHECK(tcp.spts[1] == 65535);
        CHECK(tcp.invflags == 0);
        CHECK(tcp.option == 0);
        CHECK(tcp.flg_mask == 0);

        const Bytes u = raw(encode_entry(find_rule(family, udp_jump)));
        const auto um = get<xt_entry_match>(u, at);
        CHECK(std::string(um.u.user.name) == "udp");
        CHECK(um.u.user.match_size == sizeof(xt_entry_match) + XT_ALIGN(sizeof(xt_udp)));
        const auto udp = get<xt_udp>(u, at + sizeof(xt_entry_match));
        CHECK(udp.dpts[0] == 11211);
        CHECK(udp.dpts[1] == 11211);
        CHECK(udp.spts[0] == 0);
        CHECK(udp.spts[1] == 65535);

        // The comment match follows, then the target.
        const std::size_t comment_at = at + m.u.user.match_size;
        const auto cm = get<xt_entry_match>(b, comment_at);
        CHECK(std::string(cm.u.user.name) == "comment");
        CHECK(cm.u.user.match_size == sizeof(xt_entry_match) + XT_ALIGN(sizeof(xt_comment_info)));
        const auto info = get<xt_comment_info>(b, comment_at + sizeof(xt_entry_match));
        CHECK(std::string(info.comment) == "memguard");
        CHECK(target_offset(b, family) == comment_at + cm.u.user.match_size);
    }
}

TEST_CASE("entry: the conntrack match is revision 3 with RELATED+ESTABLISHED") {
    const Bytes b = raw(encode_entry(find_rule(Family::ipv4, established)));
    const std::size_t at = sizeof(ipt_entry);
    const auto m = get<xt_entry_match>(b, at);
    CHECK(std::string(m.u.user.name) == "conntrack");
    CHECK(m.u.user.revision == 3);
    CHECK(m.u.user.match_size == sizeof(xt_entry_match) + XT_ALIGN(sizeof(xt_conntrack_mtinfo3)));
    const auto info = get<xt_conntrack_mtinfo3>(b, at + sizeof(xt_entry_match));
    CHECK(info.match_flags == XT_CONNTRACK_STATE);
    CHECK(info.invert_flags == 0);
    CHECK(info.state_mask ==
          (XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED) | XT_CONNTRACK_STATE_BIT(IP_CT_RELATED)));
}

TEST_CASE("entry: the standard target is exactly XT_ALIGN(sizeof(xt_standard_target))") {
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        for (const auto& spec :
             {tcp_jump, lo_accept, std::string("-m comment --comment memguard -j DROP")}) {
            INFO(memguard::to_string(family) << " " << spec);
            const Bytes b = raw(encode_entry(find_rule(family, spec)));
            const auto target = target_offset(b, family);
            const auto t = get<xt_entry_target>(b, target);
            CHECK(t.u.user.target_size == XT_ALIGN(sizeof(struct xt_standard_target)));
            CHECK(next_offset(b, family) == target + t.u.user.target_size);
            const std::string name = t.u.user.name;
            CHECK(name == (spec == tcp_jump ? "MEMGUARD" : spec == lo_accept ? "ACCEPT" : "DROP"));
        }
    }
}

TEST_CASE("entry: REJECT targets carry the right reject-with") {
    struct Case {
        Family family;
        std::string spec;
        std::uint32_t with;
    };
    for (const auto& c : {
             Case{Family::ipv4,
                  "-m comment --comment memguard -j REJECT --reject-with icmp-port-unreachable",
                  IPT_ICMP_PORT_UNREACHABLE},
             Case{Family::ipv4,
                  "-p tcp -m comment --comment memguard -j REJECT --reject-with tcp-reset",
                  IPT_TCP_RESET},
             Case{Family::ipv6,
                  "-m comment --comment memguard -j REJECT --reject-with icmp6-port-unreachable",
                  IP6T_ICMP6_PORT_UNREACH},
             Case{Family::ipv6,
                  "-p tcp -m comment --comment memguard -j REJECT --reject-with tcp-reset",
                  IP6T_TCP_RESET},
         }) {
        INFO(memguard::to_string(c.family) << " " << c.spec);
        const Bytes b = raw(encode_entry(find_rule(c.family, c.spec)));
        const auto target = target_offset(b, c.family);
        const auto t = get<xt_entry_target>(b, target);
        CHECK(std::string(t.u.user.name) == "REJECT");
        CHECK(t.u.user.target_size == sizeof(xt_entry_target) + XT_ALIGN(sizeof(std::uint32_t)));
        CHECK(get<std::uint32_t>(b, target + sizeof(xt_entry_target)) == c.with);
    }
}

TEST_CASE("entry: the audit rule is limit - comment - then NFLOG") {
    Policy p = unit::seed_policy();
    p.log_blocked = true;
    p.log_rate_per_s = 20;
    p.log_group = 300;
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        INFO(memguard::to_string(family));
        const auto chain = memguard::build_ruleset(p, family).chain;
        const auto log = std::find_if(chain.begin(), chain.end(),
                                      [](const Rule& r) { return r.verdict == Verdict::nflog; });
        REQUIRE(log != chain.end());
        const Bytes b = raw(encode_entry(*log));
        const std::size_t at = entry_size(family);
        const auto m = get<xt_entry_match>(b, at);
        CHECK(std::string(m.u.user.name) == "limit");
        CHECK(m.u.user.revision == 0);
        CHECK(m.u.user.match_size == sizeof(xt_entry_match) + XT_ALIGN(sizeof(xt_rateinfo)));
        const auto rate = get<xt_rateinfo>(b, at + sizeof(xt_entry_match));
        CHECK(rate.avg == XT_LIMIT_SCALE / 20);
        CHECK(rate.burst == 20);
        const auto cm = get<xt_entry_match>(b, at + m.u.user.match_size);
        CHECK(std::string(cm.u.user.name) == "comment");

        const auto target = target_offset(b, family);
        const auto t = get<xt_entry_target>(b, target);
        CHECK(std::string(t.u.user.name) == "NFLOG");
        CHECK(t.u.user.target_size == sizeof(xt_entry_target) + XT_ALIGN(sizeof(xt_nflog_info)));
        const auto info = get<xt_nflog_info>(b, target + sizeof(xt_entry_target));
        CHECK(info.group == 300);
        CHECK(info.threshold == XT_NFLOG_DEFAULT_THRESHOLD);
        CHECK(info.flags == 0);
        CHECK(info.len == 0);
        CHECK(std::string(info.prefix) == "memguard");
        CHECK(next_offset(b, family) % 8 == 0);
    }
}

TEST_CASE("entry: source networks are address and mask bytes") {
    const Bytes b4 = raw(encode_entry(
        find_rule(Family::ipv4, "-s 192.168.1.0/24 -m comment --comment memguard -j ACCEPT")));
    const auto e4 = get<ipt_entry>(b4, 0);
    CHECK(e4.ip.src.s_addr == htonl(0xC0A80100));
    CHECK(e4.ip.smsk.s_addr == htonl(0xFFFFFF00));
    CHECK(e4.ip.proto == 0);

    const Bytes h4 = raw(encode_entry(
        find_rule(Family::ipv4, "-s 203.0.113.7/32 -m comment --comment memguard -j ACCEPT")));
    CHECK(get<ipt_entry>(h4, 0).ip.smsk.s_addr == 0xFFFFFFFF);

    const Bytes b6 = raw(encode_entry(
        find_rule(Family::ipv6, "-s fd12:3456::/48 -m comment --comment memguard -j ACCEPT")));
    const auto e6 = get<ip6t_entry>(b6, 0);
    const auto want = net("fd12:3456::/48");
    CHECK(std::memcmp(&e6.ipv6.src, want.addr.data(), 16) == 0);
    const auto mask = want.mask();
    CHECK(std::memcmp(&e6.ipv6.smsk, mask.data(), 16) == 0);
}
