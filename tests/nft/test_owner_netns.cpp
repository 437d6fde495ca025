// The owned table: flags, refusals of other writers, adoption after a restart, a foreign table
// under our name, and remove().
#include "nft_netns.hpp"

using memguard::nft::Keeper;
using memguard::nft::Kernel;

namespace {

memguard::nft::TableModel table_now(const std::string& name = "memguard") {
    Kernel kernel;
    auto t = kernel.dump_table(name);
    REQUIRE(t);
    return *t;
}

} // namespace

TEST_CASE("the table is owned by our socket and persistent", "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper;
    REQUIRE(keeper.reconcile(test::desired_with(2), false).committed);
    CHECK(keeper.owned());
    const auto t = table_now();
    CHECK(t.flags == 0x6);
    CHECK(t.owner == keeper.portid());
    const auto tables = test::nft_objects(test::nft_json(), "table");
    REQUIRE(tables.size() == 1);
    CHECK(tables[0]["flags"].dump().find("owner") != std::string::npos);
}

TEST_CASE("other processes are refused while the backend lives", "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper;
    const auto desired = test::desired_with(2);
    REQUIRE(keeper.reconcile(desired, false).committed);
    const std::string before = test::nft_text();
    CHECK(test::run("nft delete table inet memguard 2>/dev/null") != 0);
    CHECK(test::run("nft add element inet memguard allow4 '{ 203.0.113.7 }' 2>/dev/null") != 0);
    CHECK(test::run("nft add rule inet memguard guard4 accept 2>/dev/null") != 0);
    CHECK(test::run("nft flush ruleset") == 0); // returns 0, and leaves our table
    CHECK(test::nft_text() == before);
    const auto again = keeper.reconcile(desired, true);
    INFO(test::describe(again));
    CHECK(again.drift.empty());
    CHECK_FALSE(again.committed);
    // Another process (status, diff) sees the owned table as in order.
    Keeper reader;
    CHECK(reader.compare(desired).drift.empty());
}

TEST_CASE("a new backend adopts the orphaned table and rebuilds it in one batch", "[netns][nft]") {
    test::fresh_netns();
    const auto desired = test::desired_with(5);
    {
        Keeper first;
        REQUIRE(first.reconcile(desired, false).committed);
    }
    const auto orphan = table_now();
    CHECK((orphan.flags & 0x4) != 0); // persists, unowned now
    CHECK(test::nft_text().find("ip saddr @allow4 accept") != std::string::npos);

    Keeper second;
    Kernel probe;
    const auto generation = probe.generation();
    const auto result = second.reconcile(desired, false);
    INFO(test::describe(result));
    REQUIRE(result.error.empty());
    CHECK(result.committed);
    CHECK(result.attempts == 1);
    REQUIRE(result.drift.size() == 1);
    CHECK(result.drift[0].kind == "table_orphaned");
    CHECK(probe.generation() == generation + 1); // one batch
    const auto adopted = table_now();
    CHECK(adopted.flags == 0x6);
    CHECK(adopted.owner == second.portid());
    CHECK(test::run("nft delete table inet memguard 2>/dev/null") != 0);
    CHECK(second.reconcile(desired, false).drift.empty());
}

TEST_CASE("a foreign table under our name is left alone and we fail closed beside it",
          "[netns][nft]") {
    test::fresh_netns();
    REQUIRE(test::run("nft add table inet memguard && nft add chain inet memguard c && "
                      "nft add rule inet memguard c tcp dport 22 accept") == 0);
    const std::string before = test::nft_text();
    Keeper keeper;
    const auto desired = test::desired_with(2);
    const auto result = keeper.reconcile(desired, false);
    INFO(test::describe(result));
    REQUIRE(result.refused.size() == 1);
    CHECK(result.refused[0] ==
          "table inet memguard is not memguardd's (no memguard marker); left alone");
    CHECK(result.fail_closed);
    CHECK(result.committed);
    CHECK(test::nft_text() == before);
    const std::string closed = test::nft_text("memguard_closed");
    INFO(closed);
    CHECK(closed.find("comment \"memguardd\"") != std::string::npos);
    CHECK(closed.find("meta nfproto ipv4 tcp dport 11211 jump guard4") != std::string::npos);
    CHECK(closed.find("iifname \"lo\" accept") != std::string::npos);
    CHECK(closed.find("@allow4 accept") != std::string::npos); // an empty set
    CHECK(closed.find("ct state") == std::string::npos);
    // The DNAT path is closed too; no reverse-path rule (only loopback passes anyway).
    CHECK(closed.find("type filter hook prerouting priority dstnat - 10; policy accept;") !=
          std::string::npos);
    CHECK(closed.find("meta nfproto ipv6 udp dport 11211 fib daddr type local jump guard6") !=
          std::string::npos);
    CHECK(closed.find("fib saddr") == std::string::npos);
    const auto again = keeper.reconcile(desired, false);
    CHECK(again.fail_closed);
    CHECK_FALSE(again.committed); // the fail-closed table is in place already
    CHECK(test::nft_text() == before);

    // The foreign table goes: ours comes back and the fail-closed one goes.
    REQUIRE(test::run("nft delete table inet memguard") == 0);
    const auto healed = keeper.reconcile(desired, false);
    INFO(test::describe(healed));
    CHECK(healed.committed);
    CHECK_FALSE(healed.fail_closed);
    CHECK(test::run("nft list table inet memguard_closed >/dev/null 2>&1") != 0);
}

TEST_CASE("remove takes out our tables and nothing else", "[netns][nft]") {
    test::fresh_netns();
    REQUIRE(test::run("nft add table inet filter && nft add chain inet filter input "
                      "'{ type filter hook input priority 0; }' && "
                      "nft add rule inet filter input tcp dport 22 counter accept") == 0);
    const std::string before = test::nft_text("filter");
    Keeper keeper;
    REQUIRE(keeper.reconcile(test::desired_with(2), false).committed);
    const auto result = keeper.remove();
    INFO(test::describe(result));
    CHECK(result.committed);
    CHECK(result.error.empty());
    CHECK(result.actions == "deleted table inet memguard");
    CHECK(test::run("nft list table inet memguard >/dev/null 2>&1") != 0);
    CHECK(test::nft_text("filter") == before);
    const auto nothing = keeper.remove();
    CHECK_FALSE(nothing.committed);
    CHECK(nothing.error.empty());
}
