// NftBackend through the seam, as the daemon drives it.
#include "nft_backend.hpp"
#include "nft_netns.hpp"

#include <poll.h>

using namespace memguard;

TEST_CASE("the backend through the Backend interface", "[netns][nft]") {
    test::fresh_netns();
    // Unowned, so the nft CLI below can tamper with the table.
    const std::unique_ptr<Backend> backend =
        std::make_unique<NftBackend>(nft::NftOptions{.own_table = false});
    CHECK(backend->name() == "nftables");
    CHECK(backend->change_fd() >= 0);
    const auto desired = test::desired_with(3);
    const Report applied = backend->reconcile(desired, PassKind::apply);
    REQUIRE(applied.families.size() == 2);
    CHECK(applied.changed());
    CHECK_FALSE(applied.failed());
    CHECK_FALSE(dynamic_cast<NftBackend&>(*backend).owned());
    CHECK(backend->guarded_ports() == std::vector<std::uint16_t>{11211});
    CHECK(backend->compare(desired).drift_count() == 0);
    CHECK_FALSE(backend->changed());

    REQUIRE(test::run("nft add element inet memguard allow4 '{ 203.0.113.7 }'") == 0);
    pollfd pfd{backend->change_fd(), POLLIN, 0};
    REQUIRE(poll(&pfd, 1, 2000) == 1);
    CHECK(backend->changed());
    const Report repaired = backend->reconcile(desired, PassKind::verify);
    CHECK(repaired.changed());
    REQUIRE(repaired.families[0].revoked.size() == 1);
    CHECK(repaired.families[0].revoked[0].to_string() == "203.0.113.7");
    CHECK(repaired.families[1].revoked.empty());

    const auto views = backend->read();
    REQUIRE(views.size() == 2);
    CHECK(views[0].has_ours());
    REQUIRE(views[0].chains.size() == 4);
    CHECK(views[0].chains[1].name == "prerouting");
    CHECK(views[0].chains[1].rules.size() == 3); // other ports' accept; tcp, udp 11211, IPv4
    const Report removed = backend->remove();
    CHECK(removed.changed());
    CHECK(removed.families[0].actions == "deleted table inet memguard");
    CHECK(backend->guarded_ports().empty());
    CHECK_FALSE(backend->read()[0].has_ours());
}
