// What a pass found and did, per family, in words any backend can fill: the daemon logs it,
// `status --json` and `verify` print it, revocation reads `revoked` from it.
#pragma once

#include "net.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace memguard {

inline constexpr Family both_families[] = {Family::ipv4, Family::ipv6};

struct Drift {
    Family family = Family::ipv4;
    std::string kind;  // short and stable, for the journal's DRIFT_KIND: "rule_missing", ...
    std::string where; // the chain, set or table it was found in ("MEMGUARD", "allow4")
    std::string text;  // one line for a person: "ipv4 MEMGUARD rule 3 changed: want ..., found ..."
    [[nodiscard]] const std::string& describe() const { return text; }
};

struct FamilyReport {
    Family family = Family::ipv4;
    std::vector<Drift> drift;     // what differed before this pass
    std::vector<Network> revoked; // sources our rules accepted before this pass, and no longer
    bool committed = false;       // a transaction was committed
    unsigned attempts = 0;        // commits tried (more than 1: another writer raced us)
    bool unlocked = false;        // written without the xtables lock, held while the port was open
    // The wanted rules could not be programmed (`error` says why), so this family runs the
    // fail-closed rules instead: loopback only on every port we know of, or as `closed_scope`
    // says where only a part could not be had.
    bool fail_closed = false;
    std::string closed_scope = "loopback only";
    std::string error;                // empty: the pass did what it set out to do
    std::vector<std::string> refused; // objects under our names that are not ours, left alone
    // What the commit did, in words ("added 4 rules to MEMGUARD, ..."); for remove, what went.
    std::string actions;
};

struct Report {
    std::vector<FamilyReport> families;
    [[nodiscard]] bool changed() const;
    [[nodiscard]] std::size_t drift_count() const;
    // A family whose pass failed (even if it then failed closed).
    [[nodiscard]] bool failed() const;
};

} // namespace memguard
