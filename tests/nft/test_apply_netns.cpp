// Applying from an empty ruleset, staying in sync, and the cost of a verify pass.
#include "keeper.hpp"
#include "nft_netns.hpp"

#include <chrono>

using memguard::nft::Keeper;

TEST_CASE("apply from empty builds the table nft lists", "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper;
    const auto desired = test::desired_with(100, true);
    const auto result = keeper.reconcile(desired, false);
    INFO(result.error);
    REQUIRE(result.error.empty());
    REQUIRE(result.committed);
    REQUIRE_FALSE(result.fail_closed);
    const std::string text = test::nft_text();
    INFO(text);
    CHECK(text.find("comment \"memguardd\"") != std::string::npos);
    CHECK(text.find("type filter hook input priority filter - 10; policy accept;") !=
          std::string::npos);
    CHECK(text.find("meta nfproto ipv4 tcp dport 11211 jump guard4") != std::string::npos);
    CHECK(text.find("iifname \"lo\" accept") != std::string::npos);
    CHECK(text.find("ct state established,related accept") != std::string::npos);
    CHECK(text.find("ip saddr @allow4 accept") != std::string::npos);
    CHECK(text.find("ip6 saddr @allow6 accept") != std::string::npos);
    CHECK(text.find("log prefix \"memguard\" group 11211") != std::string::npos);
    CHECK(text.find("counter packets 0 bytes 0 drop") != std::string::npos);
    const auto listing = test::nft_json();
    const auto sets = test::nft_objects(listing, "set");
    REQUIRE(sets.size() == 2);
    for (const auto& s : sets) {
        if (s["name"] == "allow4") {
            CHECK(s["elem"].size() == 100);
        } else {
            CHECK(s["elem"].size() == 1);
        }
    }
    const auto tables = test::nft_objects(listing, "table");
    REQUIRE(tables.size() == 1);
    // nft 1.0.6 knows "owner" but not "persist" (0x4), which it leaves out.
    INFO(tables[0].dump());

    const auto again = keeper.reconcile(desired, false);
    INFO(again.error);
    CHECK(again.drift.empty());
    CHECK_FALSE(again.committed);
}

TEST_CASE("apply of 10000 networks then in sync", "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper;
    const auto desired = test::desired_with(10000);
    const auto start = std::chrono::steady_clock::now();
    const auto result = keeper.reconcile(desired, false);
    const auto took = std::chrono::steady_clock::now() - start;
    INFO(result.error);
    REQUIRE(result.committed);
    WARN("apply of 10,000 networks took "
         << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    const auto sets = test::nft_objects(test::nft_json(), "set");
    for (const auto& s : sets) {
        if (s["name"] == "allow4") {
            CHECK(s["elem"].size() == 10000);
        }
    }
    const auto again = keeper.reconcile(desired, false);
    INFO(test::describe(again));
    CHECK(again.drift.empty());
    CHECK_FALSE(again.committed);
}

TEST_CASE("a verify pass with nothing changed costs one GETGEN and no dump", "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper;
    const auto desired = test::desired_with(3);
    REQUIRE(keeper.reconcile(desired, false).committed);
    const auto first = keeper.reconcile(desired, true); // dumps once, finds it in sync
    INFO(test::describe(first));
    REQUIRE(first.drift.empty());
    const auto dumps = keeper.dumps();
    for (int i = 0; i < 5; ++i) {
        CHECK(keeper.reconcile(desired, true).drift.empty());
    }
    CHECK(keeper.dumps() == dumps);
    // Somebody else's change anywhere moves the generation: the next verify reads again.
    REQUIRE(test::run("nft add table inet other") == 0);
    CHECK(keeper.reconcile(desired, true).drift.empty());
    CHECK(keeper.dumps() > dumps);
}

TEST_CASE("the verify after our own commit reads nothing, unless somebody committed after it",
          "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false}); // unowned: the nft CLI may change it
    const auto desired = test::desired_with(1000);
    REQUIRE(keeper.reconcile(desired, false).committed);
    const auto dumps = keeper.dumps();
    // The batch's own events (or, for a big set, their overflow) are no change of anybody else's.
    (void)keeper.changed();
    const auto verify = keeper.reconcile(desired, true);
    INFO(test::describe(verify));
    CHECK(verify.drift.empty());
    CHECK_FALSE(verify.committed);
    CHECK(keeper.dumps() == dumps);
    // A change by hand after our commit moves the generation: the next verify reads and repairs.
    REQUIRE(test::run("nft add element inet memguard allow4 '{ 192.0.2.1 }'") == 0);
    CHECK(keeper.changed());
    const auto repaired = keeper.reconcile(desired, true);
    INFO(test::describe(repaired));
    CHECK(keeper.dumps() > dumps);
    CHECK_FALSE(repaired.drift.empty());
    CHECK(repaired.committed);
}
