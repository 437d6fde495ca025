// The one entry point: bring the kernel to the policy, or take our rules out.
// `apply --once`, `diff`, `remove` and the daemon's timer all come through here.
#pragma once

#include "backend.hpp"
#include "diff.hpp"
#include "policy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace memguard {

struct FamilyReport {
    Family family = Family::ipv4;
    std::vector<Drift> drift;     // what differed before this pass
    std::vector<Network> revoked; // sources the chain accepted before this pass, and no longer
    bool committed = false;       // a transaction was committed
    unsigned attempts = 0;        // commits tried (more than 1: another writer raced us)
    bool unlocked = false;        // written without the xtables lock, held while the port was open
    // The wanted rules could not be programmed (`error` says why), so this family runs the
    // fail-closed rules instead: loopback only on every port we know of.
    bool fail_closed = false;
    std::string error;                // empty: the pass did what it set out to do
    std::vector<std::string> refused; // objects under our names that are not ours, left alone
};

struct Report {
    std::vector<FamilyReport> families;
    [[nodiscard]] bool changed() const;
    [[nodiscard]] std::size_t drift_count() const;
    // A family whose pass failed (even if it then failed closed).
    [[nodiscard]] bool failed() const;
};

inline constexpr Family both_families[] = {Family::ipv4, Family::ipv6};

// How a writing pass looks at the table first. A lock-free snapshot costs one more copy of the
// table when there is something to write, and saves libiptc and the lock when there is not:
// right for the timer's verify passes, wrong for an apply that is expected to change things.
enum class FirstLook : std::uint8_t { snapshot, locked };

class Guard {
public:
    explicit Guard(Backend& backend) : backend_(backend) {}

    // Per family, independently: reads the table, compares it with the policy and, if anything
    // differs, repairs it in one commit (retrying a commit that lost a race with another
    // writer). With FirstLook::snapshot the first read takes no lock; only a pass that has to
    // write takes it and reads again. A family whose pass fails for any reason gets the
    // fail-closed rules instead, and its report says why. Never throws for a kernel error.
    Report reconcile(const Policy& policy, FirstLook first = FirstLook::snapshot);
    // Compares only; never writes. Throws what the kernel reads throw.
    Report compare_only(const Policy& policy);
    // Takes out what is ours (ownership.hpp), each family on its own; a family that fails says
    // why in its report's `error`.
    Report remove();
    // The kernel's rules as they are, and our set if there is one, per family.
    std::vector<KernelView> read();
    KernelView read_family(Family family);
    // The policy for failing closed: loopback only, on the default ports, on `also`, and on
    // every port our rules already guard, so failing closed never opens a port an earlier run
    // closed.
    Policy fail_closed_policy(const std::vector<std::uint16_t>& also = {});

private:
    FamilyReport reconcile_family(const Policy& policy, Family family, FirstLook first);
    void fall_back(const Policy& policy, FamilyReport& report);
    template <class Planner>
    FamilyReport run(Family family, Planner planner, bool want_set, bool write, FirstLook first);
    KernelView with_set(bool want_set, KernelView view);
    std::unique_ptr<Transaction> begin_locked(Family family, bool want_set, KernelView& view);
    Backend& backend_;
};

} // namespace memguard
