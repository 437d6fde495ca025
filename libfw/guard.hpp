// The one entry point: bring the kernel to the policy, or take our rules out.
// `apply --once`, `diff`, `remove` and the daemon's timer all come through here.
#pragma once

#include "backend.hpp"
#include "diff.hpp"
#include "policy.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace memguard {

struct FamilyReport {
    Family family = Family::ipv4;
    std::vector<Drift> drift;     // what differed before this pass
    std::vector<Network> revoked; // sources the chain accepted before this pass, and no longer
    bool committed = false;       // a transaction was committed
    unsigned attempts = 0;        // commits tried (more than 1: another writer raced us)
};

struct Report {
    std::vector<FamilyReport> families;
    [[nodiscard]] bool changed() const;
    [[nodiscard]] std::size_t drift_count() const;
};

inline constexpr Family both_families[] = {Family::ipv4, Family::ipv6};

// How a writing pass looks at the table first. A lock-free snapshot costs one more copy of the
// table when there is something to write, and saves libiptc and the lock when there is not:
// right for the timer's verify passes, wrong for an apply that is expected to change things.
enum class FirstLook : std::uint8_t { snapshot, locked };

class Guard {
public:
    explicit Guard(Backend& backend) : backend_(backend) {}

    // Reads each family's table, compares it with the policy and, if anything differs, repairs
    // it in one commit. With FirstLook::snapshot the first read takes no lock; only a pass that
    // then has to write takes it, and reads again under it. Retries a commit that lost a race with
    // another writer.
    Report reconcile(const Policy& policy, FirstLook first = FirstLook::snapshot);
    // Compares only; never writes.
    Report compare_only(const Policy& policy);
    // Takes out our jumps and chain, nothing else.
    Report remove(); // reads under the lock from the start
    // The kernel's rules as they are, and our set if there is one, per family.
    std::vector<KernelView> read();
    // The policy for having no valid config: loopback only, on the default ports and on every
    // port our jumps already guard, so failing closed never opens a port an earlier run closed.
    Policy fail_closed_policy();

private:
    Report against(const Policy& policy, bool write, FirstLook first);
    using SetWanted = std::function<bool(Family)>;
    template <class Planner>
    Report run(Planner planner, const SetWanted& set_wanted, bool write, FirstLook first);
    Backend& backend_;
};

} // namespace memguard
