// Desired → the table we plan: rules as nft-like text, sets as ranges, fail-closed state.
#include "plan.hpp"

#include <catch2/catch.hpp>

using namespace memguard;
using namespace memguard::nft;

namespace {

Desired sample(Action action, bool log) {
    Desired d;
    for (auto* f : {&d.ipv4, &d.ipv6}) {
        f->family = f == &d.ipv4 ? Family::ipv4 : Family::ipv6;
        f->ports = {11211};
        f->protocols = {Protocol::tcp, Protocol::udp};
        f->action = action;
        f->log_blocked = log;
        f->log_group = 5;
        f->log_rate_per_s = 10;
    }
    d.ipv4.allow = {*parse_network("10.0.0.0/8"), *parse_network("10.1.0.0/16")};
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
                                   "counter packets 0 bytes 0 drop comment \"memguard\""});
    CHECK(m.chain("input")->hook.has_value());
    CHECK(m.chain("input")->priority == -10);
    REQUIRE(m.set("allow4") != nullptr);
    CHECK(m.set("allow4")->ranges.size() == 1);
    CHECK(m.set("allow6")->ranges.empty());
    CHECK(m.chain("input")->rules[0].dport == 11211);
    CHECK(m.chain("input")->rules[0].jump == "guard4");
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
    d.ipv4.ports = {11211, 22122};
    const std::vector<std::uint16_t> guarded{9999};
    const Desired closed = fail_closed_desired(d, guarded);
    for (const FamilyDesired* f : {&closed.ipv4, &closed.ipv6}) {
        CHECK(f->ports == std::vector<std::uint16_t>{9999, 11211, 22122});
        CHECK(f->allow.empty());
        CHECK(f->allow_loopback);
        CHECK_FALSE(f->accept_established);
        CHECK(f->action == Action::drop);
        CHECK_FALSE(f->log_blocked);
    }
    const TableModel m = model_of(plan_table(kClosedTableName, closed));
    CHECK(m.name == "memguard_closed");
    CHECK(m.chain("input")->rules.size() == 12); // 3 ports × 2 protocols × 2 families
}
