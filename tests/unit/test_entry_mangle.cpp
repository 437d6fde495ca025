// The matches only the mangle table's rules use: conntrack --ctstate DNAT --ctorigdstport
// --ctdir ORIGINAL, addrtype --dst-type LOCAL,BROADCAST,ANYCAST,MULTICAST (IPv6: LOCAL,ANYCAST
// and MULTICAST), rpfilter --invert. Bytes as iptables-legacy
// 1.8.9 writes them (dumped with iptc_first_rule from rules it added, kernel 6.18), both ways.
#include "support.hpp"

#include "legacy/iptc/entry.hpp"
#include "legacy/ruleset.hpp"

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_rpfilter.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

using memguard::Family;
using memguard::Protocol;
using memguard::Rule;
using memguard::Verdict;
using memguard::iptc::decode_entry;
using memguard::iptc::encode_entry;
using Bytes = std::vector<std::uint8_t>;

namespace {

Rule dnat_jump(Family family, Protocol proto) {
    Rule r;
    r.family = family;
    r.proto = proto;
    r.dnat_port = 11211;
    r.comment = "memguard";
    r.verdict = Verdict::jump_memguard;
    return r;
}

namespace addr_type = memguard::addr_type;

Rule reverse_path_drop(Family family,
                       std::uint16_t dst_types = addr_type::local | addr_type::anycast) {
    Rule r;
    r.family = family;
    r.proto = Protocol::udp;
    r.dport = 11211;
    r.dst_types = family == Family::ipv4 ? addr_type::all : dst_types;
    r.rpfilter_failed = true;
    r.comment = "memguard";
    r.verdict = Verdict::drop;
    return r;
}

std::size_t header(Family f) {
    return f == Family::ipv4 ? sizeof(ipt_entry) : sizeof(ip6t_entry);
}

Bytes raw(const memguard::iptc::EntryBytes& e) {
    return {e.bytes().begin(), e.bytes().end()};
}

// The match named `name` in entry `b`: its header and data, as bytes.
Bytes match_bytes(const Bytes& b, Family f, const std::string& name) {
    std::size_t at = header(f);
    while (at + sizeof(xt_entry_match) <= b.size()) {
        xt_entry_match m{};
        std::memcpy(&m, b.data() + at, sizeof m);
        if (m.u.user.match_size == 0) {
            break;
        }
        if (name == m.u.user.name) {
            return {b.begin() + static_cast<std::ptrdiff_t>(at),
                    b.begin() + static_cast<std::ptrdiff_t>(at + m.u.user.match_size)};
        }
        at += m.u.user.match_size;
    }
    return {};
}

// The data part after the xt_entry_match header.
Bytes data_of(const Bytes& match) {
    return {match.begin() + sizeof(xt_entry_match), match.end()};
}

Bytes zeros(std::size_t n) {
    return Bytes(n, 0);
}

} // namespace

TEST_CASE("entry mangle: to_string prints what iptables-legacy-save prints") {
    CHECK(memguard::to_string(dnat_jump(Family::ipv4, Protocol::tcp)) ==
          "-p tcp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir ORIGINAL -m comment "
          "--comment memguard -j MEMGUARD");
    CHECK(memguard::to_string(reverse_path_drop(Family::ipv4)) ==
          "-p udp -m udp --dport 11211 -m addrtype --dst-type LOCAL,BROADCAST,ANYCAST,MULTICAST "
          "-m rpfilter --invert -m comment --comment memguard -j DROP");
    CHECK(memguard::to_string(reverse_path_drop(Family::ipv6)) ==
          "-p udp -m udp --dport 11211 -m addrtype --dst-type LOCAL,ANYCAST -m rpfilter --invert "
          "-m comment --comment memguard -j DROP");
    CHECK(memguard::to_string(reverse_path_drop(Family::ipv6, addr_type::multicast)) ==
          "-p udp -m udp --dport 11211 -m addrtype --dst-type MULTICAST -m rpfilter --invert -m "
          "comment --comment memguard -j DROP");
}

TEST_CASE("entry mangle: the DNAT conntrack match is byte for byte iptables-legacy's") {
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        INFO(memguard::to_string(family));
        const Bytes b = raw(encode_entry(dnat_jump(family, Protocol::tcp)));
        const Bytes m = match_bytes(b, family, "conntrack");
        REQUIRE(m.size() == 200); // iptables-legacy: "match conntrack rev 3 size 200"
        xt_entry_match head{};
        std::memcpy(&head, m.data(), sizeof head);
        CHECK(head.u.user.revision == 3);
        // Measured: 136 zero bytes (addresses, expires), then the 2-byte fields in host order:
        // origdst_port 11211, match_flags 0x1201, state_mask 0x80, origdst_port_high 11211.
        Bytes want = zeros(136);
        const Bytes tail = {0x00, 0x00, 0x00, 0x00, 0xcb, 0x2b, 0x00, 0x00, // l4proto..replsrc
                            0x00, 0x00, 0x01, 0x12, 0x00, 0x00, 0x80, 0x00, // ..state_mask
                            0x00, 0x00, 0x00, 0x00, 0xcb, 0x2b, 0x00, 0x00, // ..replsrc_high
                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
        want.insert(want.end(), tail.begin(), tail.end());
        CHECK(data_of(m) == want);
    }
}

TEST_CASE("entry mangle: addrtype and rpfilter are byte for byte iptables-legacy's") {
    // The dest mask in host order: 0x3c (LOCAL,BROADCAST,ANYCAST,MULTICAST), 0x14 (LOCAL,ANYCAST).
    for (const auto& [family, dest] : {std::pair{Family::ipv4, std::uint8_t{0x3c}},
                                       std::pair{Family::ipv6, std::uint8_t{0x14}}}) {
        INFO(memguard::to_string(family));
        const Bytes b = raw(encode_entry(reverse_path_drop(family)));
        const Bytes a = match_bytes(b, family, "addrtype");
        REQUIRE(a.size() == 40);
        xt_entry_match head{};
        std::memcpy(&head, a.data(), sizeof head);
        CHECK(head.u.user.revision == 1);
        CHECK(data_of(a) == Bytes{0x00, 0x00, dest, 0x00, 0x00, 0x00, 0x00, 0x00});
        const Bytes r = match_bytes(b, family, "rpfilter");
        REQUIRE(r.size() == 40);
        std::memcpy(&head, r.data(), sizeof head);
        CHECK(head.u.user.revision == 0);
        CHECK(data_of(r) == Bytes{0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
        // iptables-legacy's order: udp, addrtype, rpfilter, comment (568 bytes for IPv4)
        if (family == Family::ipv4) {
            CHECK(b.size() == 568);
        }
    }
}

TEST_CASE("entry mangle: the new rules decode back to themselves") {
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        for (const auto& rule :
             {dnat_jump(family, Protocol::tcp), dnat_jump(family, Protocol::udp),
              reverse_path_drop(family), reverse_path_drop(family, addr_type::multicast)}) {
            INFO(memguard::to_string(rule));
            const auto d = decode_entry(family, encode_entry(rule).bytes(), unit::target_of(rule));
            CHECK(d.comment == "memguard");
            CHECK(d.rule == std::optional<Rule>(rule));
        }
    }
}

namespace {

// Encodes `rule`, lets `edit` change the bytes of match `name`'s data, and decodes.
template <class Edit>
std::optional<Rule> edited(const Rule& rule, const std::string& name, Edit edit) {
    Bytes b = raw(encode_entry(rule));
    std::size_t at = header(rule.family);
    for (;;) {
        xt_entry_match m{};
        std::memcpy(&m, b.data() + at, sizeof m);
        if (name == m.u.user.name) {
            edit(b.data() + at + sizeof m);
            break;
        }
        at += m.u.user.match_size;
    }
    return decode_entry(rule.family, std::span<const std::uint8_t>(b.data(), b.size()),
                        unit::target_of(rule))
        .rule;
}

} // namespace

TEST_CASE("entry mangle: anything else in those matches is not ours") {
    const Rule jump = dnat_jump(Family::ipv4, Protocol::tcp);
    auto ct = [&](auto change) {
        return edited(jump, "conntrack", [&](std::uint8_t* p) {
            xt_conntrack_mtinfo3 info{};
            std::memcpy(&info, p, sizeof info);
            change(info);
            std::memcpy(p, &info, sizeof info);
        });
    };
    CHECK(ct([](auto&) {}).has_value());
    SECTION("--ctdir REPLY") {
        CHECK_FALSE(ct([](auto& i) { i.invert_flags = XT_CONNTRACK_DIRECTION; }));
    }
    SECTION("a port range") {
        CHECK_FALSE(ct([](auto& i) { i.origdst_port_high = 11300; }));
    }
    SECTION("--ctstate DNAT,SNAT") {
        CHECK_FALSE(ct([](auto& i) { i.state_mask |= XT_CONNTRACK_STATE_SNAT; }));
    }
    SECTION("and --ctorigdst") {
        CHECK_FALSE(ct([](auto& i) {
            i.match_flags |= XT_CONNTRACK_ORIGDST;
            i.origdst_addr.ip = 0x0100007f;
        }));
    }
    const Rule strict = reverse_path_drop(Family::ipv6);
    SECTION("rpfilter without --invert") {
        CHECK_FALSE(edited(strict, "rpfilter", [](std::uint8_t* p) { p[0] = 0; }));
    }
    SECTION("rpfilter --loose --invert") {
        CHECK_FALSE(edited(strict, "rpfilter",
                           [](std::uint8_t* p) { p[0] = XT_RPFILTER_INVERT | XT_RPFILTER_LOOSE; }));
    }
    auto addrtype = [&](auto change) {
        return edited(strict, "addrtype", [&](std::uint8_t* p) {
            xt_addrtype_info_v1 info{};
            std::memcpy(&info, p, sizeof info);
            change(info);
            std::memcpy(p, &info, sizeof info);
        });
    };
    SECTION("addrtype ! --dst-type LOCAL") {
        CHECK_FALSE(addrtype([](auto& i) { i.flags = XT_ADDRTYPE_INVERT_DEST; }));
    }
    SECTION("addrtype --dst-type LOCAL,UNICAST") {
        CHECK_FALSE(addrtype([](auto& i) { i.dest |= XT_ADDRTYPE_UNICAST; }));
    }
    SECTION("addrtype --src-type LOCAL") {
        CHECK_FALSE(addrtype([](auto& i) { i.source = XT_ADDRTYPE_LOCAL; }));
    }
    SECTION("addrtype --dst-type LOCAL alone, as older versions wrote it: ours, to be replaced") {
        const auto local_only = addrtype([](auto& i) { i.dest = XT_ADDRTYPE_LOCAL; });
        REQUIRE(local_only);
        CHECK(local_only->dst_types == addr_type::local);
        CHECK(local_only != std::optional<Rule>(strict));
    }
}
