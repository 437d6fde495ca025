// Labels in our accept rules' comments (what is ours, drift when a label changes) and what the
// legacy backend's blocked() attributes to each protocol.
#include "support.hpp"

#include "legacy/diff.hpp"
#include "legacy/iptc/entry.hpp"
#include "legacy/legacy_backend.hpp"
#include "legacy/ownership.hpp"
#include "legacy/ruleset.hpp"

#include <string>
#include <vector>

using memguard::BlockedCount;
using memguard::Family;
using memguard::KernelRule;
using memguard::KernelView;
using memguard::Policy;
using memguard::Protocol;
using memguard::Rule;
using memguard::Ruleset;
using memguard::Verdict;
using unit::kernel;
using unit::net;

namespace {

Policy labelled(const std::string& label) {
    Policy p = unit::seed_policy();
    p.guards.front().allow.push_back(net("10.2.0.5"));
    p.guards.front().labels.emplace(net("10.2.0.5"), label);
    return p;
}

KernelView in_kernel(const Ruleset& want) {
    KernelView v;
    v.family = want.family;
    v.chain_exists = true;
    for (const auto& r : want.chain) {
        v.chain.push_back(kernel(r));
    }
    for (const auto& r : want.jumps) {
        v.input.push_back(kernel(r));
    }
    v.chain_references = static_cast<std::uint32_t>(want.jumps.size());
    memguard::MangleView m;
    m.chain_exists = want.mangle.use_chain;
    for (const auto& r : want.mangle.chain) {
        m.chain.push_back(kernel(r));
    }
    for (const auto& r : want.mangle.jumps) {
        m.forward.push_back(kernel(r));
    }
    for (const auto& r : want.mangle.prerouting) {
        m.prerouting.push_back(kernel(r));
    }
    m.chain_references = want.mangle.use_chain ? static_cast<std::uint32_t>(m.forward.size()) : 0;
    v.mangle = m;
    return v;
}

// Sets the counters of every rule of `rules` whose spec is `spec`.
void count(std::vector<KernelRule>& rules, const std::string& spec, std::uint64_t packets) {
    bool found = false;
    for (auto& k : rules) {
        if (k.rule && memguard::to_string(*k.rule) == spec) {
            k.packets = packets;
            k.bytes = packets * 60;
            found = true;
        }
    }
    INFO(spec);
    REQUIRE(found);
}

void zero(KernelView& v) {
    for (auto* rules :
         {&v.input, &v.chain, &v.mangle->chain, &v.mangle->forward, &v.mangle->prerouting}) {
        for (auto& k : *rules) {
            k.packets = k.bytes = 0;
        }
    }
}

BlockedCount counted(Family f, Protocol p, std::uint64_t packets) {
    return {f, p, packets, packets * 60};
}

const std::string tag = "-m comment --comment memguard";

} // namespace

TEST_CASE("labels: a labelled network's accept rule carries `memguard: <label>`") {
    const Ruleset v4 = memguard::build_ruleset(labelled("batch host"), Family::ipv4);
    const auto specs = unit::specs(v4.chain);
    REQUIRE(specs.size() == 6);
    CHECK(specs[2] == "-s 192.168.1.0/24 " + tag + " -j ACCEPT");
    CHECK(specs[3] == "-s 10.2.0.5/32 -m comment --comment \"memguard: batch host\" -j ACCEPT");
    CHECK(v4.chain[3].comment == "memguard: batch host");
    // iptables-save's quoting: quotes and backslashes escaped, bare words bare.
    Rule r = v4.chain[3];
    r.comment = "memguard: say \"hi\" \\ o'k";
    CHECK(memguard::to_string(r) ==
          "-s 10.2.0.5/32 -m comment --comment \"memguard: say \\\"hi\\\" \\\\ o\\'k\" -j ACCEPT");
    // The comment round-trips through the kernel's bytes (255 bytes max; a label is <= 100).
    const std::string longest = "memguard: " + std::string(100, 'x');
    r.comment = longest;
    const auto bytes = memguard::iptc::encode_entry(r);
    const auto back = memguard::iptc::decode_entry(Family::ipv4, bytes.bytes(), "ACCEPT");
    REQUIRE(back.rule.has_value());
    CHECK(back.comment == longest);
    CHECK(*back.rule == r);
}

TEST_CASE("labels: ours is exactly `memguard` or `memguard: ` and anything") {
    CHECK(memguard::is_our_comment("memguard"));
    CHECK(memguard::is_our_comment("memguard: batch host"));
    CHECK(memguard::is_our_comment("memguard: "));
    CHECK_FALSE(memguard::is_our_comment("memguardX"));
    CHECK_FALSE(memguard::is_our_comment("memguard:x"));
    CHECK_FALSE(memguard::is_our_comment("memguard:"));
    CHECK_FALSE(memguard::is_our_comment("not memguard"));
    CHECK_FALSE(memguard::is_our_comment(" memguard"));
    CHECK_FALSE(memguard::is_our_comment("Memguard: x"));
    CHECK_FALSE(memguard::is_our_comment(""));

    // A chain whose only rule is a look-alike is somebody else's; `memguard: x` makes it ours.
    KernelView v;
    v.chain_exists = true;
    Rule r;
    r.src = net("10.9.0.0/16");
    r.comment = "memguard:x";
    v.chain = {kernel(r)};
    CHECK_FALSE(memguard::claim(v).chain);
    v.chain[0].comment = v.chain[0].rule->comment = "memguard: x";
    CHECK(memguard::claim(v).chain);
}

TEST_CASE("labels: a changed label is drift, repaired in place; a look-alike is foreign") {
    const Ruleset want = memguard::build_ruleset(labelled("new label"), Family::ipv4);
    KernelView view = in_kernel(memguard::build_ruleset(labelled("old label"), Family::ipv4));
    auto cmp = memguard::compare(want, view);
    REQUIRE(cmp.drift.size() == 2); // filter and mangle MEMGUARD
    CHECK(cmp.drift[0].kind == memguard::DriftKind::rule_changed);
    CHECK(cmp.drift[0].position == 4);
    CHECK(cmp.drift[0].expected ==
          "-s 10.2.0.5/32 -m comment --comment \"memguard: new label\" -j ACCEPT");
    CHECK(cmp.plan.erase_from == 3);
    CHECK(cmp.plan.erase_count == 1);
    CHECK(cmp.plan.insert == std::vector<Rule>{want.chain[3]});
    CHECK(cmp.revoked.empty()); // the same network, still allowed

    // The label dropped from the config: back to the plain tag.
    const Ruleset plain = memguard::build_ruleset(unit::seed_policy(), Family::ipv4);
    view = in_kernel(memguard::build_ruleset(labelled("x"), Family::ipv4));
    cmp = memguard::compare(plain, view);
    REQUIRE_FALSE(cmp.drift.empty());
    // the label changed: the same rule, rewritten
    CHECK(cmp.drift[0].kind == memguard::DriftKind::rule_stale);
    CHECK(cmp.revoked == std::vector<memguard::Network>{net("10.2.0.5")});

    // somebody's rule with a look-alike comment in our chain is foreign: erased as extra
    view = in_kernel(want);
    Rule alike = want.chain[3];
    alike.comment = "memguardX";
    auto k = kernel(alike);
    view.chain.insert(view.chain.begin() + 2, k);
    cmp = memguard::compare(want, view);
    REQUIRE_FALSE(cmp.drift.empty());
    CHECK(cmp.drift[0].kind == memguard::DriftKind::rule_extra);
}

TEST_CASE("blocked: each closing rule counts for its protocol, the catch-all for udp") {
    Policy p = unit::seed_policy(); // tcp and udp, drop, reverse-path on udp
    const Ruleset want = memguard::build_ruleset(p, Family::ipv4);
    KernelView v = in_kernel(want);
    zero(v);
    count(v.chain, "-p tcp " + tag + " -j DROP", 3);
    count(v.chain, tag + " -j DROP", 5);
    count(v.mangle->chain, "-p tcp " + tag + " -j DROP", 1);
    count(v.mangle->chain, tag + " -j DROP", 4);
    count(v.mangle->prerouting,
          "-p udp -m udp --dport 11211 -m addrtype --dst-type LOCAL,BROADCAST,ANYCAST,MULTICAST "
          "-m rpfilter --invert " +
              tag + " -j DROP",
          2);
    count(v.chain, "-s 192.168.1.0/24 " + tag + " -j ACCEPT", 100); // accepted: not blocked
    CHECK(memguard::blocked_in(v) ==
          std::vector<BlockedCount>{counted(Family::ipv4, Protocol::tcp, 4),
                                    counted(Family::ipv4, Protocol::udp, 11)});
}

TEST_CASE("blocked: reject, one protocol, fail-closed in INPUT, an unsplit old chain") {
    SECTION("reject: tcp-reset is tcp's, the port-unreachable one udp's") {
        Policy p = unit::seed_policy();
        p.action = memguard::Action::reject;
        KernelView v = in_kernel(memguard::build_ruleset(p, Family::ipv6));
        zero(v);
        count(v.chain, "-p tcp " + tag + " -j REJECT --reject-with tcp-reset", 2);
        count(v.chain, tag + " -j REJECT --reject-with icmp6-port-unreachable", 7);
        CHECK(memguard::blocked_in(v) ==
              std::vector<BlockedCount>{counted(Family::ipv6, Protocol::tcp, 2),
                                        counted(Family::ipv6, Protocol::udp, 7)});
    }
    SECTION("only tcp guarded: the one catch-all is tcp's, and udp is not listed") {
        Policy p;
        p.guards = {unit::guard("pages", {11212}, {Protocol::tcp}, {net("10.3.0.0/24")})};
        KernelView v = in_kernel(memguard::build_ruleset(p, Family::ipv4));
        zero(v);
        count(v.chain, tag + " -j DROP", 6);
        CHECK(memguard::blocked_in(v) ==
              std::vector<BlockedCount>{counted(Family::ipv4, Protocol::tcp, 6)});
    }
    SECTION("our chain squatted: the drops in INPUT and mangle FORWARD count") {
        memguard::Claims squatted;
        squatted.chain = false;
        squatted.mangle_chain = false;
        const auto want = memguard::build_ruleset(
            memguard::desired_family(unit::seed_policy(), Family::ipv4), squatted);
        KernelView v = in_kernel(want);
        v.chain_exists = false;
        v.mangle->chain_exists = false;
        zero(v);
        count(v.input, "-p udp -m udp --dport 11211 " + tag + " -j DROP", 8);
        count(v.mangle->forward,
              "-p tcp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir ORIGINAL " + tag +
                  " -j DROP",
              1);
        CHECK(memguard::blocked_in(v) ==
              std::vector<BlockedCount>{counted(Family::ipv4, Protocol::tcp, 1),
                                        counted(Family::ipv4, Protocol::udp, 8)});
    }
    SECTION("a chain from before the split: its catch-all cannot be told apart") {
        KernelView v = in_kernel(memguard::build_ruleset(unit::seed_policy(), Family::ipv4));
        zero(v);
        std::erase_if(v.chain, [](const KernelRule& k) { return k.rule && k.rule->proto; });
        count(v.chain, tag + " -j DROP", 9);
        const auto counts = memguard::blocked_in(v);
        REQUIRE(counts.size() == 2);
        CHECK(counts[0].packets == 0);
        CHECK(counts[1].packets == 0);
    }
    SECTION("a foreign DROP and nothing of ours: nothing counted, nothing listed") {
        KernelView v;
        Rule r;
        r.proto = Protocol::tcp;
        r.dport = 11211;
        r.verdict = Verdict::drop;
        v.input = {kernel(r)};
        v.mangle = memguard::MangleView{};
        CHECK(memguard::blocked_in(v).empty());
    }
}
