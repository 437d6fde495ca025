// Unowned mode (MEMGUARD_TEST_NFT_UNOWNED): tampering through the nft CLI is seen at once
// through events, described by compare, and repaired by reconcile; our own batches are quiet.
#include "nft_netns.hpp"

#include <chrono>

using memguard::nft::Keeper;

namespace {

bool has_kind(const memguard::nft::PassResult& r, const std::string& kind) {
    for (const auto& d : r.drift) {
        if (d.kind == kind) {
            return true;
        }
    }
    return false;
}

} // namespace

TEST_CASE("our own batches do not count as changes", "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false});
    REQUIRE(keeper.reconcile(test::desired_with(3), false).committed);
    REQUIRE(keeper.reconcile(test::desired_with(4), false).committed);
    CHECK_FALSE(test::changed_within(keeper, std::chrono::milliseconds(200)));
    // Other tables' churn does not either.
    REQUIRE(test::run("nft add table inet other && nft add chain inet other c") == 0);
    CHECK_FALSE(test::changed_within(keeper, std::chrono::milliseconds(200)));
}

TEST_CASE("tampering through nft is seen, described and repaired", "[netns][nft]") {
    struct Tamper {
        const char* command;
        const char* kind;
    };
    const auto tamper =
        GENERATE(Tamper{"nft flush chain inet memguard guard4", "rule_missing"},
                 Tamper{"nft delete table inet memguard", "table_missing"},
                 Tamper{"nft insert rule inet memguard guard4 accept", "rule_extra"},
                 Tamper{"nft add element inet memguard allow4 '{ 203.0.113.7 }'", "set_members"});
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false});
    const auto desired = test::desired_with(3);
    REQUIRE(keeper.reconcile(desired, false).committed);
    CHECK_FALSE(keeper.changed());
    INFO(tamper.command);
    REQUIRE(test::run(tamper.command) == 0);
    CHECK(test::changed_within(keeper, std::chrono::seconds(2)));
    const auto found = keeper.compare(desired);
    INFO(test::describe(found));
    CHECK(has_kind(found, tamper.kind));
    const auto repaired = keeper.reconcile(desired, true);
    INFO(test::describe(repaired));
    CHECK(repaired.committed);
    CHECK(repaired.error.empty());
    if (std::string(tamper.kind) == "set_members") {
        REQUIRE(repaired.revoked.size() == 1);
        CHECK(repaired.revoked[0].to_string() == "203.0.113.7");
    }
    CHECK(keeper.compare(desired).drift.empty());
    CHECK_FALSE(test::changed_within(keeper, std::chrono::milliseconds(200)));
}

TEST_CASE("our own 10000-network apply stays quiet and a big foreign change is seen",
          "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false});
    const auto desired = test::desired_with(10000);
    REQUIRE(keeper.reconcile(desired, false).committed);
    CHECK_FALSE(test::changed_within(keeper, std::chrono::milliseconds(200)));
    // 5,000 foreign elements: seen as events or, past the receive buffer, as lost events.
    std::string elements;
    for (int i = 0; i < 5000; ++i) {
        elements += (i == 0 ? "" : ", ") + std::string("172.16.") + std::to_string(i / 256) + "." +
                    std::to_string(i % 256);
    }
    const std::string file = "/tmp/memguard-nft-test-" + std::to_string(getpid()) + ".nft";
    REQUIRE(test::run("echo 'add element inet memguard allow4 { " + elements + " }' > " + file) ==
            0);
    REQUIRE(test::run("nft -f " + file) == 0);
    std::remove(file.c_str());
    CHECK(test::changed_within(keeper, std::chrono::seconds(2)));
    const auto repaired = keeper.reconcile(desired, true);
    CHECK(repaired.committed);
    // 172.16.0.0 … 172.16.19.135 as CIDRs: /20, /23, /24, /25, /29
    CHECK(repaired.revoked.size() == 5);
}
