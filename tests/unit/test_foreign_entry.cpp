// The one x_tables entry walker (legacy/iptc/entry_walk.hpp) under both its readers: the
// foreign-rule reader doctor uses (decode_foreign_entry) and our own decoder (decode_entry).
// Entries are built byte by byte as iptables-legacy stores Docker's DNAT rule.
#include "support.hpp"

#include "legacy/iptc/entry.hpp"
#include "legacy/iptc/entry_walk.hpp"
#include "legacy/iptc/foreign_rules.hpp"

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <netinet/in.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

using memguard::Family;
using memguard::iptc::decode_entry;
using memguard::iptc::decode_foreign_entry;
using memguard::iptc::EntryError;
using memguard::iptc::walk_entry;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t kEntry = sizeof(ipt_entry);
constexpr std::size_t kMatch = sizeof(xt_entry_match) + XT_ALIGN(sizeof(xt_tcp));
constexpr std::size_t kTarget =
    sizeof(xt_entry_target) + XT_ALIGN(sizeof(nf_nat_ipv4_multi_range_compat));

template <class T> void put(Bytes& b, std::size_t at, const T& value) {
    REQUIRE(at + sizeof(T) <= b.size());
    std::memcpy(b.data() + at, &value, sizeof(T));
}

// -p tcp -m tcp --dport 11211 -j DNAT --to-destination 172.17.0.2:11211, as Docker writes it.
Bytes docker_dnat() {
    Bytes b(kEntry + kMatch + kTarget, 0);
    ipt_entry e{};
    e.ip.proto = IPPROTO_TCP;
    e.target_offset = kEntry + kMatch;
    e.next_offset = kEntry + kMatch + kTarget;
    put(b, 0, e);
    xt_entry_match m{};
    m.u.user.match_size = kMatch;
    std::strcpy(m.u.user.name, "tcp");
    put(b, kEntry, m);
    xt_tcp tcp{};
    tcp.spts[1] = 0xFFFF;
    tcp.dpts[0] = tcp.dpts[1] = 11211;
    put(b, kEntry + sizeof m, tcp);
    xt_entry_target t{};
    t.u.user.target_size = kTarget;
    std::strcpy(t.u.user.name, "DNAT");
    put(b, kEntry + kMatch, t);
    nf_nat_ipv4_multi_range_compat range{};
    range.rangesize = 1;
    range.range[0].flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;
    range.range[0].min_ip = range.range[0].max_ip = htonl(0xAC110002);
    range.range[0].min.all = range.range[0].max.all = htons(11211);
    put(b, kEntry + kMatch + sizeof t, range);
    return b;
}

void set_offsets(Bytes& b, std::size_t target, std::size_t next) {
    ipt_entry e{};
    std::memcpy(&e, b.data(), sizeof e);
    e.target_offset = static_cast<std::uint16_t>(target);
    e.next_offset = static_cast<std::uint16_t>(next);
    put(b, 0, e);
}

void set_size(Bytes& b, std::size_t at, std::size_t size) {
    std::uint16_t s = static_cast<std::uint16_t>(size);
    put(b, at, s); // match_size and target_size are both the first u16
}

std::span<const std::uint8_t> span(const Bytes& b) {
    return {b.data(), b.size()};
}

// Refused with an error by the walker and both its readers.
void refused(const Bytes& b) {
    CHECK_THROWS_AS(walk_entry(Family::ipv4, span(b)), EntryError);
    CHECK_THROWS_AS(decode_foreign_entry(Family::ipv4, "DOCKER", span(b)), EntryError);
    CHECK_THROWS_AS(decode_entry(Family::ipv4, span(b), "DNAT"), EntryError);
}

} // namespace

TEST_CASE("entry walk: a foreign DNAT entry decodes as doctor reads it") {
    const Bytes b = docker_dnat();
    const auto walk = walk_entry(Family::ipv4, span(b));
    REQUIRE(walk.matches.size() == 1);
    CHECK(walk.matches[0].name == "tcp");
    CHECK(walk.matches[0].offset == kEntry);
    CHECK(walk.target.name == "DNAT");
    CHECK(walk.target.data.size() == kTarget - sizeof(xt_entry_target));

    const auto rule = decode_foreign_entry(Family::ipv4, "DOCKER", span(b));
    CHECK(rule.chain == "DOCKER");
    CHECK(rule.protocol == IPPROTO_TCP);
    REQUIRE(rule.dport);
    CHECK(rule.dport->min == 11211);
    CHECK(rule.dport->max == 11211);
    CHECK(rule.target == "DNAT");
    const auto to = memguard::netlink::decode_nat_target(rule.target, rule.target_revision,
                                                         Family::ipv4, rule.target_info);
    REQUIRE(to);
    REQUIRE(to->address);
    CHECK(to->address->to_string() == "172.17.0.2");
    // Not ours: decoded, but no rule of ours.
    CHECK_FALSE(decode_entry(Family::ipv4, span(b), "DNAT").rule);
}

TEST_CASE("entry walk: target_offset or next_offset out of bounds is refused") {
    const Bytes good = docker_dnat();
    const std::size_t next = good.size();
    for (const auto& [target, next_offset] : std::vector<std::pair<std::size_t, std::size_t>>{
             {next + 8, next},   // past the entry
             {next, next},       // no room for the target's header
             {next - 8, next},   // room for less than a target header
             {0, next},          // inside the ip header
             {kEntry - 8, next}, // likewise
             {0xFFFF, next},
             {kEntry + kMatch, next + 8}, // next_offset past the bytes
             {kEntry + kMatch, next - 8}, // next_offset short of them
         }) {
        INFO("target_offset " << target << ", next_offset " << next_offset);
        Bytes bad = good;
        set_offsets(bad, target, next_offset);
        refused(bad);
    }
    SECTION("cut short") {
        for (const std::size_t keep : {std::size_t{0}, kEntry - 1, kEntry, next - 1}) {
            INFO("keep " << keep);
            refused(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(keep)));
        }
    }
}

TEST_CASE("entry walk: a match whose size overruns is refused") {
    for (const std::size_t size :
         {std::size_t{0}, sizeof(xt_entry_match) - 8, kMatch + 8, std::size_t{0xFFF8}}) {
        INFO("match_size " << size);
        Bytes bad = docker_dnat();
        set_size(bad, kEntry, size);
        refused(bad);
    }
}

TEST_CASE("entry walk: a target whose size overruns the entry is refused") {
    for (const std::size_t size :
         {std::size_t{0}, sizeof(xt_entry_target) - 8, kTarget + 8, std::size_t{0xFFF8}}) {
        INFO("target_size " << size);
        Bytes bad = docker_dnat();
        set_size(bad, kEntry + kMatch, size);
        refused(bad);
    }
}

TEST_CASE("entry walk: a target ending before the entry does is the kernel's, not ours") {
    Bytes b = docker_dnat();
    set_size(b, kEntry + kMatch, kTarget - 8);
    const auto rule = decode_foreign_entry(Family::ipv4, "DOCKER", span(b));
    CHECK(rule.target == "DNAT");
    CHECK(rule.target_info.size() == kTarget - 8 - sizeof(xt_entry_target));
    CHECK_THROWS_AS(decode_entry(Family::ipv4, span(b), "DNAT"), EntryError);
}

TEST_CASE("entry walk: every entry of real legacy tables decodes") {
    // Recorded with make_entry_seeds --record from a namespace holding Docker's nat rules and a
    // few others (conntrack, rpfilter, comment, REJECT, MASQUERADE, REDIRECT), IPv4 and IPv6.
    std::size_t entries = 0;
    std::size_t forwards = 0;
    for (const auto& file : std::filesystem::directory_iterator(
             std::filesystem::path(MEMGUARD_FUZZ_CORPUS) / "entry")) {
        if (!file.path().filename().string().starts_with("recorded-")) {
            continue;
        }
        std::ifstream in(file.path(), std::ios::binary);
        const Bytes seed{std::istreambuf_iterator<char>(in), {}};
        REQUIRE(seed.size() > 2); // family byte, target byte, entry
        const Family family = seed[0] != 0 ? Family::ipv6 : Family::ipv4;
        const Bytes entry(seed.begin() + 2, seed.end());
        INFO(file.path().filename().string());
        const auto rule = decode_foreign_entry(family, "X", span(entry));
        const auto to = memguard::netlink::decode_nat_target(rule.target, rule.target_revision,
                                                             family, rule.target_info);
        forwards += to && rule.dport && rule.dport->contains(11211) ? 1 : 0;
        ++entries;
    }
    CHECK(entries >= 10);
    CHECK(forwards >= 2); // the IPv4 and the IPv6 DNAT of 11211 (REDIRECT too)
}
