#include "guard.hpp"

#include "checkpoint.hpp"
#include "ownership.hpp"
#include "ruleset.hpp"

#include <algorithm>

namespace memguard {

namespace {

constexpr unsigned max_attempts = 5;

void add_port(std::vector<std::uint16_t>& ports, std::uint16_t port) {
    if (std::ranges::find(ports, port) == ports.end()) {
        ports.push_back(port);
    }
}

// The ports our rules in INPUT guard, jumps and fail-closed rules alike.
void add_guarded_ports(const KernelView& view, std::vector<std::uint16_t>& ports) {
    for (const auto& k : view.input) {
        if (k.ours() && k.rule && k.rule->dport) {
            add_port(ports, *k.rule->dport);
        }
    }
}

} // namespace

bool Report::changed() const {
    return std::ranges::any_of(families, [](const FamilyReport& f) { return f.committed; });
}

std::size_t Report::drift_count() const {
    std::size_t n = 0;
    for (const auto& f : families) {
        n += f.drift.size();
    }
    return n;
}

bool Report::failed() const {
    return std::ranges::any_of(families, [](const FamilyReport& f) { return !f.error.empty(); });
}

// Under the lock when it can be had. A port that none of our rules guards yet is not kept open
// for a lock another program holds: after a second the table is read and written without it.
// The set is read when the policy wants one or our chain matches on one.
KernelView Guard::with_set(bool want_set, KernelView view) {
    if (want_set || matches_on_set(view)) {
        view.set = backend_.read_set(view.family);
    }
    return view;
}

std::unique_ptr<Transaction> Guard::begin_locked(Family family, bool want_set, KernelView& view) {
    checkpoint("before_lock");
    auto txn = backend_.begin(family, LockWait::or_unlocked);
    view = with_set(want_set, txn->read());
    if (txn->unlocked() && guarded(view)) {
        txn.reset();
        txn = backend_.begin(family, LockWait::wait);
        view = with_set(want_set, txn->read());
    }
    checkpoint("after_lock");
    return txn;
}

template <class Planner>
FamilyReport Guard::run(Family family, Planner planner, bool want_set, bool write,
                        FirstLook first) {
    FamilyReport fr;
    fr.family = family;
    Comparison cmp;
    bool again = write;
    if (first == FirstLook::snapshot || !write) {
        cmp = planner(with_set(want_set, backend_.snapshot(family)));
        again = write && !cmp.plan.empty();
    }
    // The commit must rest on a read made under the lock; after a lost race, read again.
    while (again) {
        again = false;
        KernelView view;
        auto txn = begin_locked(family, want_set, view);
        cmp = planner(view);
        if (cmp.plan.empty()) {
            break; // somebody else repaired it meanwhile
        }
        if (cmp.plan.load_set) { // before the rules that match on it
            backend_.load_set(family, *cmp.plan.load_set, view.set);
            checkpoint("after_set_load");
        }
        if (!cmp.plan.table_empty()) {
            txn->apply(cmp.plan);
            ++fr.attempts;
            try {
                txn->commit();
            } catch (const CommitRace&) {
                if (fr.attempts >= max_attempts) {
                    throw;
                }
                again = true;
                continue;
            }
            checkpoint("after_commit");
        }
        if (cmp.plan.drop_set) { // after the last rule that matched on it
            backend_.drop_set(family);
        }
        fr.committed = true;
        fr.unlocked = fr.unlocked || txn->unlocked();
    }
    fr.drift = std::move(cmp.drift);
    fr.revoked = std::move(cmp.revoked);
    return fr;
}

FamilyReport Guard::reconcile_family(const Policy& policy, Family family, FirstLook first) {
    Claims claims;
    auto planner = [&](const KernelView& view) {
        claims = claim(view);
        return compare(build_ruleset(policy, family, claims), view);
    };
    FamilyReport fr = run(family, planner, wants_set(policy, family), true, first);
    fr.refused = std::move(claims.refused);
    fr.fail_closed = !claims.chain; // loopback-only rules in INPUT
    if (fr.fail_closed) {
        fr.error = "chain " + std::string(chain_name) + " is not memguardd's";
    }
    return fr;
}

// The wanted rules could not be had: program the most closed rules we can instead.
void Guard::fall_back(const Policy& policy, FamilyReport& report) {
    try {
        Policy closing = memguard::fail_closed_policy();
        for (const auto port : policy.ports) {
            add_port(closing.ports, port);
        }
        add_guarded_ports(backend_.snapshot(report.family), closing.ports);
        const FamilyReport closed = reconcile_family(closing, report.family, FirstLook::locked);
        report.fail_closed = true;
        report.committed = report.committed || closed.committed;
        report.unlocked = report.unlocked || closed.unlocked;
        report.refused = closed.refused;
    } catch (const std::exception& e) {
        report.error += std::string("; failing closed failed too: ") + e.what();
    }
}

Report Guard::reconcile(const Policy& policy, FirstLook first) {
    Report report;
    for (const auto family : both_families) {
        FamilyReport fr;
        try {
            fr = reconcile_family(policy, family, first);
        } catch (const std::exception& e) {
            fr = FamilyReport{};
            fr.family = family;
            fr.error = e.what();
            fall_back(policy, fr);
        }
        report.families.push_back(std::move(fr));
    }
    return report;
}

Report Guard::compare_only(const Policy& policy) {
    Report report;
    for (const auto family : both_families) {
        auto planner = [&](const KernelView& view) {
            return compare(build_ruleset(policy, family, claim(view)), view);
        };
        report.families.push_back(
            run(family, planner, wants_set(policy, family), false, FirstLook::snapshot));
    }
    return report;
}

Report Guard::remove() {
    Report report;
    for (const auto family : both_families) {
        std::vector<std::string> refused;
        auto planner = [&](const KernelView& v) {
            Comparison c;
            c.plan = removal_plan(v);
            refused = claim(v).refused;
            return c;
        };
        FamilyReport fr;
        try {
            fr = run(family, planner, true, true, FirstLook::locked);
            fr.refused = std::move(refused);
        } catch (const std::exception& e) {
            fr.family = family;
            fr.error = e.what();
        }
        report.families.push_back(std::move(fr));
    }
    return report;
}

Policy Guard::fail_closed_policy(const std::vector<std::uint16_t>& also) {
    Policy policy = memguard::fail_closed_policy();
    for (const auto port : also) {
        add_port(policy.ports, port);
    }
    for (const auto family : both_families) {
        try {
            add_guarded_ports(backend_.snapshot(family), policy.ports);
        } catch (const std::exception&) {
            // A table we cannot read guards nothing we could learn from; the pass will say why.
        }
    }
    return policy;
}

KernelView Guard::read_family(Family family) {
    KernelView view = backend_.snapshot(family);
    view.set = backend_.read_set(family);
    return view;
}

std::vector<KernelView> Guard::read() {
    std::vector<KernelView> views;
    for (const auto family : both_families) {
        views.push_back(read_family(family));
    }
    return views;
}

} // namespace memguard
