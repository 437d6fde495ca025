// Somebody else's tables under both our names (inet memguard and inet memguard_closed): left
// byte for byte, the fail-closed rules in inet memguard_closed_alt, and the kernel's support for
// owned tables learnt from a probe of our own, never from a refusal about their tables.
#include "nft_netns.hpp"

using memguard::nft::Keeper;
using memguard::nft::Kernel;
using memguard::nft::OwnedTables;

namespace {

std::string nft_json_text(const std::string& table) {
    return test::capture("nft -j list table inet " + table + " 2>&1");
}

void make_foreign_tables() {
    REQUIRE(test::run("nft add table inet memguard && nft add chain inet memguard c && "
                      "nft add rule inet memguard c tcp dport 22 accept && "
                      "nft add table inet memguard_closed") == 0);
}

} // namespace

TEST_CASE("the ownership probe commits nothing and says the kernel supports owned tables",
          "[netns][nft]") {
    test::fresh_netns();
    Kernel kernel;
    const auto generation = kernel.generation();
    CHECK(kernel.probe_owned_tables() == OwnedTables::supported); // kernel 6.9 or later
    CHECK(kernel.generation() == generation);
    CHECK(test::capture("nft list tables 2>&1").empty());
    // Somebody else's table under the probe's name: the probe cannot tell, and leaves it.
    REQUIRE(test::run("nft add table inet memguard_probe") == 0);
    const std::string before = nft_json_text("memguard_probe");
    CHECK(kernel.probe_owned_tables() == OwnedTables::unknown);
    CHECK(nft_json_text("memguard_probe") == before);
}

TEST_CASE("foreign inet memguard and inet memguard_closed: both left alone, closed in _alt",
          "[netns][nft]") {
    test::fresh_netns();
    make_foreign_tables();
    const std::string main_before = nft_json_text("memguard");
    const std::string closed_before = nft_json_text("memguard_closed");
    Keeper keeper;
    const auto desired = test::desired_with(2);
    const auto first = keeper.reconcile(desired, false);
    INFO(test::describe(first));
    CHECK(first.fail_closed);
    CHECK(first.committed);
    CHECK(first.refused.size() == 2);
    CHECK(first.error.find("failing closed in table inet memguard_closed_alt") !=
          std::string::npos);
    for (int pass = 0; pass < 2; ++pass) {
        const auto again = keeper.reconcile(desired, true);
        INFO(test::describe(again));
        CHECK(again.fail_closed);
        CHECK_FALSE(again.committed); // in place already
    }
    CHECK(nft_json_text("memguard") == main_before);
    CHECK(nft_json_text("memguard_closed") == closed_before);
    CHECK(keeper.owned()); // their tables never downgrade ours
    CHECK(keeper.ownership_note().empty());
    const std::string alt = test::nft_text("memguard_closed_alt");
    INFO(alt);
    CHECK(alt.find("comment \"memguardd\"") != std::string::npos);
    CHECK(alt.find("meta nfproto ipv4 tcp dport 11211 jump guard4") != std::string::npos);
    CHECK(alt.find("iifname \"lo\" accept") != std::string::npos);
    CHECK(test::run("nft delete table inet memguard_closed_alt 2>/dev/null") != 0); // owned

    // Their tables go: ours comes back owned, and the fail-closed table goes.
    REQUIRE(test::run("nft delete table inet memguard && nft delete table inet memguard_closed") ==
            0);
    const auto healed = keeper.reconcile(desired, true);
    INFO(test::describe(healed));
    CHECK(healed.committed);
    CHECK_FALSE(healed.fail_closed);
    Kernel reader;
    const auto ours = reader.dump_table("memguard");
    REQUIRE(ours);
    CHECK(ours->flags == 0x6);
    CHECK(ours->owner == keeper.portid());
    CHECK(test::run("nft delete table inet memguard 2>/dev/null") != 0);
    CHECK(test::run("nft list table inet memguard_closed_alt >/dev/null 2>&1") != 0);
}

TEST_CASE("a foreign inet memguard_closed beside our own table is never written into",
          "[netns][nft]") {
    test::fresh_netns();
    REQUIRE(test::run("nft add table inet memguard_closed") == 0);
    const std::string before = nft_json_text("memguard_closed");
    Keeper keeper;
    const auto result = keeper.reconcile(test::desired_with(2), false);
    INFO(test::describe(result));
    CHECK(result.committed);
    CHECK_FALSE(result.fail_closed);
    CHECK(nft_json_text("memguard_closed") == before);
    CHECK(test::run("nft delete table inet memguard 2>/dev/null") != 0);
}

TEST_CASE("remove takes out inet memguard_closed_alt and leaves their two tables", "[netns][nft]") {
    test::fresh_netns();
    make_foreign_tables();
    const std::string main_before = nft_json_text("memguard");
    const std::string closed_before = nft_json_text("memguard_closed");
    Keeper keeper;
    REQUIRE(keeper.reconcile(test::desired_with(2), false).committed);
    REQUIRE(test::run("nft list table inet memguard_closed_alt >/dev/null 2>&1") == 0);
    const auto removed = keeper.remove();
    INFO(test::describe(removed));
    CHECK(removed.committed);
    CHECK(removed.actions == "deleted table inet memguard_closed_alt");
    CHECK(test::run("nft list table inet memguard_closed_alt >/dev/null 2>&1") != 0);
    CHECK(nft_json_text("memguard") == main_before);
    CHECK(nft_json_text("memguard_closed") == closed_before);
}
