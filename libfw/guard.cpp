#include "guard.hpp"

#include "ruleset.hpp"

#include <algorithm>
#include <array>

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

template <class Planner>
Report Guard::run(Planner planner, const SetWanted& set_wanted, bool write, FirstLook first) {
    Report report;
    for (const auto family : both_families) {
        FamilyReport fr;
        fr.family = family;
        // The set is read when the policy wants one or our chain matches on one.
        auto with_set = [&](KernelView view) {
            if (set_wanted(family) || matches_on_set(view)) {
                view.set = backend_.read_set(family);
            }
            return view;
        };
        // A look without the lock first, if asked for: a pass with nothing to change ends there.
        Comparison cmp;
        bool locked_read = write;
        if (first == FirstLook::snapshot || !write) {
            cmp = planner(family, with_set(backend_.snapshot(family)));
            locked_read = write && !cmp.plan.empty();
        }
        // The commit must rest on a read made under the lock, so read again; after a lost race,
        // again.
        bool again = locked_read;
        while (again) {
            again = false;
            auto txn = backend_.begin(family);
            const KernelView view = with_set(txn->read());
            cmp = planner(family, view);
            if (cmp.plan.empty()) {
                break; // somebody else repaired it meanwhile
            }
            if (cmp.plan.load_set) { // before the rules that match on it
                backend_.load_set(family, *cmp.plan.load_set, view.set);
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
            }
            if (cmp.plan.drop_set) { // after the last rule that matched on it
                backend_.drop_set(family);
            }
            fr.committed = true;
        }
        fr.drift = cmp.drift;
        fr.revoked = cmp.revoked;
        report.families.push_back(std::move(fr));
    }
    return report;
}

// The wanted rules of both families are built once per pass: the comparison and the question
// whether a family's set must be read both come from them.
Report Guard::against(const Policy& policy, bool write, FirstLook first) {
    const std::array desired{build_ruleset(policy, Family::ipv4),
                             build_ruleset(policy, Family::ipv6)};
    auto of = [&](Family f) -> const Ruleset& { return desired[f == Family::ipv4 ? 0 : 1]; };
    return run([&](Family f, const KernelView& v) { return compare(of(f), v); },
               [&](Family f) { return of(f).set.has_value(); }, write, first);
}

Report Guard::reconcile(const Policy& policy, FirstLook first) {
    return against(policy, true, first);
}

Report Guard::compare_only(const Policy& policy) {
    return against(policy, false, FirstLook::snapshot);
}

Report Guard::remove() {
    return run(
        [](Family, const KernelView& v) {
            Comparison c;
            c.plan = removal_plan(v);
            return c;
        },
        [](Family) { return true; }, true, FirstLook::locked);
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
        KernelView view = backend_.snapshot(family);
        view.set = backend_.read_set(family);
        views.push_back(std::move(view));
    }
    return views;
}

} // namespace memguard
