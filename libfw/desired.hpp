// What memguardd wants the kernel to hold, per address family, whatever the backend: the
// policy with the allowlist split by family. Plain data; backends turn it into their rules.
#pragma once

#include "policy.hpp"

#include <cstdint>
#include <vector>

namespace memguard {

struct FamilyDesired {
    Family family = Family::ipv4;
    // Each guard with this family's networks only, canonical, in the config's order (a backend
    // that needs them sorted, merged or without duplicates does that itself). Never empty.
    std::vector<GuardSpec> guards{GuardSpec{}};
    bool allow_loopback = true;
    bool accept_established = true;
    Action action = Action::drop;
    // Blocked packets go to NFLOG group `log_group` first, at most `log_rate_per_s` a second.
    bool log_blocked = false;
    std::uint16_t log_group = 0;
    std::uint32_t log_rate_per_s = 0;

    friend bool operator==(const FamilyDesired&, const FamilyDesired&) = default;
};

struct Desired {
    FamilyDesired ipv4;
    FamilyDesired ipv6;

    [[nodiscard]] const FamilyDesired& of(Family family) const {
        return family == Family::ipv4 ? ipv4 : ipv6;
    }
    friend bool operator==(const Desired&, const Desired&) = default;
};

FamilyDesired desired_family(const Policy& policy, Family family);
Desired desired_state(const Policy& policy);

// The most closed state there is: loopback only, tcp and udp, on the default ports and `ports`.
// What a backend programs when the wanted rules cannot be had.
Desired fail_closed_state(const std::vector<std::uint16_t>& ports);

} // namespace memguard
