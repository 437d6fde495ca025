// After every pass that applied or repaired rules, and at start: connections to our ports from
// sources the policy does not allow are cut (their conntrack entries deleted), whether their
// network just left the list or they got in while the port was open (before the start, during a
// tamper). The RELATED,ESTABLISHED rule would otherwise keep them in.
#pragma once

#include "netlink/conntrack.hpp"
#include "policy.hpp"
#include "report.hpp"

#include <string>
#include <vector>

namespace memguard {

// The networks `report` says our rules accepted before its pass and no longer do; sorted.
std::vector<Network> revoked_sources(const Report& report);

struct Revocation {
    std::vector<Network> revoked; // revoked_sources of the pass
    std::string labels;           // the labels the revoked networks had, "a, b"; may be empty
    netlink::SweepResult cut;     // the connections cut
    // One bounded line: "revoked 10.1.0.0/16: cut 2 open connection(s) (from 10.1.0.7, ...)".
    [[nodiscard]] std::string describe() const;
};

// Sweeps the policy's ports (sweep_unallowed). Throws netlink::NetlinkError.
Revocation revoke_unallowed(const Report& report, const Policy& policy);

// "a, b, c, d, e and 57 more": at most five networks, whatever the count.
std::string first_few(const std::vector<Network>& networks, std::size_t total);

} // namespace memguard
