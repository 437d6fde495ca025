#include "catch.hpp"

#include "allowlist_change.hpp"

#include <string>
#include <vector>

using memguard::allowlist_changes;
using memguard::GuardSpec;
using memguard::Network;
using memguard::parse_network;
using memguard::Policy;

namespace {

Network net(const std::string& text) {
    return *parse_network(text);
}

// A guard named `name` allowing `nets`; "NET=LABEL" gives the entry a label.
GuardSpec guard(const std::string& name, std::uint16_t port, const std::vector<std::string>& nets) {
    GuardSpec g;
    g.name = name;
    g.ports = {port};
    for (const auto& entry : nets) {
        const auto eq = entry.find('=');
        const Network n = net(entry.substr(0, eq));
        g.allow.push_back(n);
        if (eq != std::string::npos) {
            g.labels.emplace(n, entry.substr(eq + 1));
        }
    }
    return g;
}

Policy policy(std::vector<GuardSpec> guards) {
    Policy p;
    p.guards = std::move(guards);
    return p;
}

} // namespace

TEST_CASE("allowlist change: five networks a line, their labels, then how many more") {
    const Policy narrow = policy({guard("default", 11211, {"192.168.1.0/24"})});
    const Policy wide =
        policy({guard("default", 11211,
                      {"192.168.1.0/24", "203.0.113.0/24=vendor", "10.9.1.2", "10.2.0.0/16",
                       "10.3.0.0/16", "10.4.0.0/16=app", "10.5.0.0/16", "10.6.0.0/16"})});
    const auto changes = allowlist_changes(narrow, wide);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].guard == "default");
    CHECK(changes[0].describe() == "allowed 203.0.113.0/24 (vendor), 10.9.1.2, 10.2.0.0/16, "
                                   "10.3.0.0/16, 10.4.0.0/16 (app) and 2 more");
    const auto back = allowlist_changes(wide, narrow);
    REQUIRE(back.size() == 1);
    CHECK(back[0].revoked.size() == 7);
    CHECK(back[0].describe().starts_with("revoked 203.0.113.0/24 (vendor), 10.9.1.2, "));
}

TEST_CASE("allowlist change: both ways in one line; nothing when the lists are the same") {
    const Policy before = policy({guard("default", 11211, {"10.9.1.0/24=app", "10.1.0.0/16"})});
    const Policy after = policy({guard("default", 11211, {"10.1.0.0/16", "203.0.113.7"})});
    const auto changes = allowlist_changes(before, after);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].describe() == "allowed 203.0.113.7; revoked 10.9.1.0/24 (app)");
    CHECK(allowlist_changes(after, after).empty());
}

TEST_CASE("allowlist change: one per guard that changed, a guard added or gone whole") {
    const Policy before =
        policy({guard("default", 11211, {"10.1.0.0/16"}), guard("pages", 11212, {"10.2.0.0/16"}),
                guard("old", 11213, {"10.3.0.0/16"})});
    const Policy after = policy({guard("default", 11211, {"10.1.0.0/16"}),
                                 guard("pages", 11212, {"10.2.0.0/16", "10.4.0.0/16"}),
                                 guard("new", 11214, {"10.5.0.0/16"})});
    const auto changes = allowlist_changes(before, after);
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].guard == "pages");
    CHECK(changes[0].describe() == "allowed 10.4.0.0/16");
    CHECK(changes[1].guard == "new");
    CHECK(changes[1].describe() == "allowed 10.5.0.0/16");
    CHECK(changes[2].guard == "old");
    CHECK(changes[2].describe() == "revoked 10.3.0.0/16");
}
