// Desired → the table we plan: rules as nft-like text, sets as ranges, fail-closed state.
#include "guards.hpp"
#include "plan.hpp"

#include "catch.hpp"

using namespace memguard;
using namespace memguard::nft;

namespace {

Desired sample(Action action, bool log) {
    Desired d = test::one_guard({"10.0.0.0/8", "10.1.0.0/16"});
    for (auto* f : {&d.ipv4, &d.ipv6}) {
        f->action = action;
        f->log_blocked = log;
        f->log_group = 5;
        f->log_rate_per_s = 10;
    }
    return d;
}

std::vector<std::string> texts(const ChainModel& c) {
    std::vector<std::string> out;
    for (const auto& r : c.rules) {
        out.push_back(r.text);
    }
    return out;
}

} // namespace

TEST_CASE("the planned table reads like nft", "[nft][plan]") {
    const TableModel m = model_of(plan_table(kTableName, sample(Action::drop, true)));
    CHECK(m.ours());
    REQUIRE(m.chain("input") != nullptr);
    CHECK(
        texts(*m.chain("input")) ==
        std::vector<std::string>{
            "th dport != 11211 accept comment \"memguard\"",
            "meta nfproto ipv4 meta l4proto tcp th dport 11211 jump guard4 comment \"memguard\"",
            "meta nfproto ipv4 meta l4proto udp th dport 11211 jump guard4 comment \"memguard\"",
            "meta nfproto ipv6 meta l4proto tcp th dport 11211 jump guard6 comment \"memguard\"",
            "meta nfproto ipv6 meta l4proto udp th dport 11211 jump guard6 comment \"memguard\""});
    CHECK(texts(*m.chain("guard4")) ==
          std::vector<std::string>{"iifname \"lo\" accept comment \"memguard\"",
                                   "ct state established,related accept comment \"memguard\"",
                                   "meta nfproto ipv4 ip saddr @allow4 accept comment \"memguard\"",
                                   "limit rate 10/second burst 10 packets log prefix \"memguard\" "
                                   "group 5 comment \"memguard\"",
                                   "meta l4proto tcp counter packets 0 bytes 0 drop comment "
                                   "\"memguard\"",
                                   "counter packets 0 bytes 0 drop comment \"memguard\""});
    CHECK(m.chain("input")->hook.has_value());
    CHECK(m.chain("input")->priority == -10);
    REQUIRE(m.set("allow4") != nullptr);
    CHECK(m.set("allow4")->ranges.size() == 1);
    CHECK(m.set("allow6")->ranges.empty());
    CHECK(m.chain("input")->rules[1].dport == 11211);
    CHECK(m.chain("input")->rules[1].jump == "guard4");
    CHECK(m.chain("input")->rules[0].jump.empty());
    CHECK(m.chain("input")->rules[0].accepts);
}

TEST_CASE("prerouting jumps as input does, for this host's addresses only", "[nft][plan]") {
    const TableModel m = model_of(plan_table(kTableName, sample(Action::drop, false)));
    const ChainModel* pre = m.chain("prerouting");
    REQUIRE(pre != nullptr);
    CHECK(pre->type == "filter");
    CHECK(pre->hook == 0U); // NF_INET_PRE_ROUTING
    CHECK(pre->priority == -110);
    CHECK(m.chain("input")->hook == 1U); // NF_INET_LOCAL_IN
    CHECK(texts(*pre) ==
          std::vector<std::string>{"th dport != 11211 accept comment \"memguard\"",
                                   "meta nfproto ipv4 meta l4proto tcp th dport 11211 fib daddr "
                                   "type local jump guard4 comment \"memguard\"",
                                   "meta nfproto ipv4 meta l4proto udp th dport 11211 fib daddr "
                                   "type local jump guard4 comment \"memguard\"",
                                   "meta nfproto ipv6 meta l4proto tcp th dport 11211 fib daddr "
                                   "type local jump guard6 comment \"memguard\"",
                                   "meta nfproto ipv6 meta l4proto udp th dport 11211 fib daddr "
                                   "type local jump guard6 comment \"memguard\""});
    CHECK(pre->rules[4].dport == 11211);
    CHECK(pre->rules[4].jump == "guard6");
    // The same jump with one more match: the input chain's rule is a prefix of its key.
    const std::string& in_key = m.chain("input")->rules[1].key;
    CHECK(pre->rules[1].key.starts_with(in_key.substr(0, in_key.find("[ immediate"))));
    CHECK(pre->rules[1].key.find("[ fib daddr type => reg 1 ]") != std::string::npos);
    // Other ports leave before any route lookup: one load, one compare.
    CHECK(pre->rules[0].key.find("[ payload load 2b @ transport header + 2 => reg 1 ]"
                                 "[ cmp neq reg 1 0x0000cb2b ]") != std::string::npos);
    CHECK(pre->rules[0].key.find("fib") == std::string::npos);
    // Chains are made in this order: base chains, then the guards they jump to.
    const TablePlan plan = plan_table(kTableName, sample(Action::drop, false));
    REQUIRE(plan.chains.size() == 5);
    CHECK(plan.chains[1].name == "prerouting");
    CHECK(plan.chains[2].name == "forward");
    CHECK_FALSE(plan.chains[3].hook);
}

TEST_CASE("forward jumps for connections DNATed from a guarded port, whatever the address",
          "[nft][plan]") {
    const TableModel m = model_of(plan_table(kTableName, sample(Action::drop, false)));
    const ChainModel* fwd = m.chain("forward");
    REQUIRE(fwd != nullptr);
    CHECK(fwd->type == "filter");
    CHECK(fwd->hook == 2U);       // NF_INET_FORWARD
    CHECK(fwd->priority == -150); // mangle: before Docker's and firewalld's filter chains
    const std::string prefix = "ct direction original ct status dnat ct original proto-dst 11211 ";
    CHECK(texts(*fwd) ==
          std::vector<std::string>{
              "meta l4proto tcp ct original proto-dst != 11211 accept comment \"memguard\"",
              "meta l4proto udp ct original proto-dst != 11211 accept comment \"memguard\"",
              "meta nfproto ipv4 meta l4proto tcp " + prefix + "jump guard4 comment \"memguard\"",
              "meta nfproto ipv4 meta l4proto udp " + prefix + "jump guard4 comment \"memguard\"",
              "meta nfproto ipv6 meta l4proto tcp " + prefix + "jump guard6 comment \"memguard\"",
              "meta nfproto ipv6 meta l4proto udp " + prefix + "jump guard6 comment \"memguard\""});
    CHECK(fwd->rules[3].dport == 11211);
    CHECK(fwd->rules[3].l4proto == 17);
    CHECK(fwd->rules[3].jump == "guard4");
    // As `nft --debug=netlink` shows the rule nft itself makes of that line.
    CHECK(fwd->rules[2].key.find("[ ct load direction => reg 1 ][ cmp eq reg 1 0x00000000 ]"
                                 "[ ct load status => reg 1 ][ bitwise reg 1 = ( reg 1 & "
                                 "0x00000020 ) ^ 0x00000000 ][ cmp neq reg 1 0x00000000 ]"
                                 "[ ct load proto_dst => reg 1 , dir original ]"
                                 "[ cmp eq reg 1 0x0000cb2b ]") != std::string::npos);
    // The fail-closed table closes the DNAT path too.
    const TableModel closed = model_of(
        plan_table(kClosedTableName, fail_closed_desired(sample(Action::drop, false), {})));
    REQUIRE(closed.chain("forward") != nullptr);
    CHECK(closed.chain("forward")->rules.size() == 6);
}

TEST_CASE("the reverse-path rules come after loopback, before established", "[nft][plan]") {
    Desired d = sample(Action::drop, false);
    d.ipv4.guards[0].reverse_path = {Protocol::udp};
    d.ipv6.guards[0].reverse_path = {Protocol::tcp, Protocol::udp};
    const TableModel m = model_of(plan_table(kTableName, d));
    const auto four = texts(*m.chain("guard4"));
    REQUIRE(four.size() == 6);
    CHECK(four[0] == "iifname \"lo\" accept comment \"memguard\"");
    CHECK(four[1] == "meta l4proto udp fib saddr . iif oif missing counter packets 0 "
                     "bytes 0 drop comment \"memguard\"");
    CHECK(four[2] == "ct state established,related accept comment \"memguard\"");
    const auto six = texts(*m.chain("guard6"));
    REQUIRE(six.size() == 7);
    CHECK(six[1].starts_with("meta l4proto tcp fib saddr . iif oif missing counter"));
    CHECK(six[2].starts_with("meta l4proto udp fib saddr . iif oif missing counter"));
    CHECK(m.chain("guard4")->rules[1].key.find("[ fib saddr . iif oif present => reg 1 ]") !=
          std::string::npos);
    // Without loopback, the check comes first.
    d.ipv4.allow_loopback = false;
    CHECK(texts(*model_of(plan_table(kTableName, d)).chain("guard4"))[0].starts_with(
        "meta l4proto udp fib saddr"));
}

TEST_CASE("reject is a tcp reset, then icmp port-unreachable", "[nft][plan]") {
    const TableModel m = model_of(plan_table(kTableName, sample(Action::reject, false)));
    const auto four = texts(*m.chain("guard4"));
    REQUIRE(four.size() == 5);
    CHECK(four[3] ==
          "meta l4proto tcp counter packets 0 bytes 0 reject with tcp reset comment \"memguard\"");
    CHECK(four[4] ==
          "counter packets 0 bytes 0 reject with icmp port-unreachable comment \"memguard\"");
    CHECK(texts(*m.chain("guard6"))[4] ==
          "counter packets 0 bytes 0 reject with icmpv6 port-unreachable comment \"memguard\"");
}

TEST_CASE("failing closed keeps every port we know and only loopback", "[nft][plan]") {
    Desired d = sample(Action::reject, true);
    d.ipv4.guards[0].ports = {11211, 22122};
    const std::vector<std::uint16_t> guarded{9999};
    const Desired closed = fail_closed_desired(d, guarded);
    for (const FamilyDesired* f : {&closed.ipv4, &closed.ipv6}) {
        REQUIRE(f->guards.size() == 1);
        CHECK(f->guards[0].ports == std::vector<std::uint16_t>{9999, 11211, 22122});
        CHECK(f->guards[0].protocols == std::vector<Protocol>{Protocol::tcp, Protocol::udp});
        CHECK(f->guards[0].allow.empty());
        CHECK(f->allow_loopback);
        CHECK_FALSE(f->accept_established);
        CHECK(f->action == Action::drop);
        CHECK_FALSE(f->log_blocked);
    }
    const TableModel m = model_of(plan_table(kClosedTableName, closed));
    CHECK(m.name == "memguard_closed");
    // below and above the ports, then 3 ports × 2 protocols × 2 families
    CHECK(m.chain("input")->rules.size() == 14);
    CHECK(m.chain("input")->rules[0].text == "th dport < 9999 accept comment \"memguard\"");
    CHECK(m.chain("input")->rules[1].text == "th dport > 22122 accept comment \"memguard\"");
    CHECK(m.chain("prerouting")->rules.size() == 14);
    CHECK(closed.ipv4.guards[0].reverse_path.empty()); // nothing passes but loopback anyway
    CHECK(texts(*m.chain("guard4")) ==
          std::vector<std::string>{
              "iifname \"lo\" accept comment \"memguard\"",
              "meta nfproto ipv4 ip saddr @allow4 accept comment \"memguard\"",
              "meta l4proto tcp counter packets 0 bytes 0 drop comment \"memguard\"",
              "counter packets 0 bytes 0 drop comment \"memguard\""});
}
