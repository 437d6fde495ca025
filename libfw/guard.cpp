#include "guard.hpp"

#include "ruleset.hpp"

#include <algorithm>

namespace memguard {

namespace {
constexpr unsigned max_attempts = 5;
}

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

template <class Planner> Report Guard::run(Planner planner, bool write, FirstLook first) {
    Report report;
    for (const auto family : both_families) {
        FamilyReport fr;
        fr.family = family;
        // A look without the lock first, if asked for: a pass with nothing to change ends there.
        Comparison cmp;
        bool locked_read = write;
        if (first == FirstLook::snapshot || !write) {
            cmp = planner(family, backend_.snapshot(family));
            locked_read = write && !cmp.plan.empty();
        }
        while (locked_read) {
            // The commit must rest on a read made under the lock, so read again.
            auto txn = backend_.begin(family);
            cmp = planner(family, txn->read());
            if (cmp.plan.empty()) {
                break; // somebody else repaired it meanwhile
            }
            txn->apply(cmp.plan);
            ++fr.attempts;
            try {
                txn->commit();
                fr.committed = true;
                break;
            } catch (const CommitRace&) {
                if (fr.attempts >= max_attempts) {
                    throw;
                }
            }
        }
        fr.drift = cmp.drift;
        fr.revoked = cmp.revoked;
        report.families.push_back(std::move(fr));
    }
    return report;
}

Report Guard::reconcile(const Policy& policy, FirstLook first) {
    return run([&](Family f, const KernelView& v) { return compare(build_ruleset(policy, f), v); },
               true, first);
}

Report Guard::compare_only(const Policy& policy) {
    return run([&](Family f, const KernelView& v) { return compare(build_ruleset(policy, f), v); },
               false, FirstLook::snapshot);
}

Report Guard::remove() {
    return run(
        [](Family, const KernelView& v) {
            Comparison c;
            c.plan = removal_plan(v);
            return c;
        },
        true, FirstLook::locked);
}

Policy Guard::fail_closed_policy() {
    Policy policy = memguard::fail_closed_policy();
    for (const auto& view : read()) {
        for (const auto& k : view.input) {
            if (!k.ours() || !k.rule || !k.rule->dport) {
                continue;
            }
            if (std::ranges::find(policy.ports, *k.rule->dport) == policy.ports.end()) {
                policy.ports.push_back(*k.rule->dport);
            }
        }
    }
    return policy;
}

std::vector<KernelView> Guard::read() {
    std::vector<KernelView> views;
    for (const auto family : both_families) {
        views.push_back(backend_.snapshot(family));
    }
    return views;
}

} // namespace memguard
