#include "legacy_backend.hpp"

#include "actions.hpp"
#include "checkpoint.hpp"
#include "ownership.hpp"
#include "ruleset.hpp"

#include <algorithm>

namespace memguard {

namespace {

constexpr unsigned max_attempts = 5;

FirstLook first_look(PassKind kind) {
    return kind == PassKind::verify ? FirstLook::snapshot : FirstLook::locked;
}

// The ports our rules in INPUT and mangle FORWARD guard, jumps and fail-closed rules alike.
void add_guarded_ports(const KernelView& view, std::vector<std::uint16_t>& ports) {
    auto add = [&ports](const std::optional<std::uint16_t>& port) {
        if (port && std::ranges::find(ports, *port) == ports.end()) {
            ports.push_back(*port);
        }
    };
    for (const auto& k : view.input) {
        if (k.ours() && k.rule) {
            add(k.rule->dport);
        }
    }
    if (!view.mangle) {
        return;
    }
    for (const auto& k : view.mangle->forward) {
        if (k.ours() && k.rule) {
            add(k.rule->dnat_port);
        }
    }
}

// A kernel without a mangle table for the family (iptable_mangle / ip6table_mangle neither
// built in nor loadable) leaves the DNAT path unguardable: the wanted rules cannot be had, and
// the pass fails before it writes anything, into fall_back. The most closed state that is then
// left is fail_closed_state's in the filter table alone (loopback only in INPUT), written by a
// pass that tolerates the missing table; the DNAT path stays as the kernel has it, and the
// report's error says so. (A DROP in filter FORWARD could close the DNAT path there, but it
// would sit above Docker's and the admin's FORWARD rules in the one table they manage; an
// error the admin must fix is the more honest answer for a kernel that rare.)
std::string no_mangle(Family family) {
    return std::string(to_string(family)) +
           ": this kernel has no legacy mangle table (iptable_mangle / ip6table_mangle), so ports "
           "published through DNAT (Docker's -p) cannot be guarded";
}

void require_mangle(const KernelView& view) {
    if (!view.mangle) {
        throw KernelError(no_mangle(view.family), ENOENT);
    }
}

} // namespace

std::vector<Drift> in_words(const std::vector<ChainDrift>& drift) {
    std::vector<Drift> out;
    out.reserve(drift.size());
    for (const auto& d : drift) {
        out.push_back({d.family, std::string(to_string(d.kind)), d.chain, d.describe()});
    }
    return out;
}

// Under the lock when it can be had. A port that none of our rules guards yet is not kept open
// for a lock another program holds: after a second the table is read and written without it.
// A set is read when the policy wants it or our chains match on it.
KernelView LegacyBackend::with_sets(const std::vector<std::string>& wanted, KernelView view) {
    std::vector<std::string> names = sets_matched(view);
    names.insert(names.end(), wanted.begin(), wanted.end());
    for (const auto& name : names) {
        if (view.sets.contains(name)) {
            continue;
        }
        if (auto set = tables_->read_set(view.family, name)) {
            view.sets.emplace(name, std::move(*set));
        }
    }
    return view;
}

std::unique_ptr<Transaction> LegacyBackend::begin_locked(Family family,
                                                         const std::vector<std::string>& wanted,
                                                         KernelView& view) {
    checkpoint("before_lock");
    auto txn = tables_->begin(family, LockWait::or_unlocked);
    view = with_sets(wanted, txn->read());
    if (txn->unlocked() && guarded(view)) {
        txn.reset();
        txn = tables_->begin(family, LockWait::wait);
        view = with_sets(wanted, txn->read());
    }
    checkpoint("after_lock");
    return txn;
}

template <class Planner>
FamilyReport LegacyBackend::run(Family family, Planner planner,
                                const std::vector<std::string>& wanted, bool write,
                                FirstLook first) {
    FamilyReport fr;
    fr.family = family;
    Comparison cmp;
    bool again = write;
    auto& seen = seen_[family == Family::ipv4 ? 0 : 1];
    seen.reset();
    if (first == FirstLook::snapshot || !write) {
        KernelView view = with_sets(wanted, tables_->snapshot(family));
        cmp = planner(view);
        again = write && !cmp.plan.empty();
        if (!again) {
            seen = Seen{std::move(view), std::chrono::steady_clock::now()};
        }
    }
    // The commit must rest on a read made under the lock; after a lost race, read again.
    while (again) {
        again = false;
        KernelView view;
        auto txn = begin_locked(family, wanted, view);
        cmp = planner(view);
        if (cmp.plan.empty()) {
            break; // somebody else repaired it meanwhile
        }
        for (const auto& [name, members] : cmp.plan.load_sets) { // before the rules on them
            const auto current = view.sets.find(name);
            tables_->load_set(family, name, members,
                              current != view.sets.end() ? std::optional(current->second)
                                                         : std::nullopt);
            checkpoint("after_set_load");
        }
        if (!cmp.plan.tables_empty()) {
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
        for (const auto& name : cmp.plan.drop_sets) { // after the last rule that matched on it
            tables_->drop_set(family, name);
        }
        fr.committed = true;
        fr.unlocked = fr.unlocked || txn->unlocked();
    }
    fr.actions = fr.committed ? describe_actions(cmp.drift) : "";
    fr.drift = in_words(cmp.drift);
    fr.revoked = std::move(cmp.revoked);
    return fr;
}

FamilyReport LegacyBackend::reconcile_family(const FamilyDesired& want, FirstLook first,
                                             bool without_mangle) {
    Claims claims;
    auto planner = [&](const KernelView& view) {
        if (!without_mangle) {
            require_mangle(view);
        }
        claims = claim(view);
        return memguard::compare(build_ruleset(want, claims), view);
    };
    FamilyReport fr = run(want.family, planner, wanted_sets(want), true, first);
    fr.refused = std::move(claims.refused);
    // loopback-only rules in INPUT, DROP rules in mangle FORWARD
    fr.fail_closed = !claims.chain || !claims.mangle_chain;
    if (!claims.chain) {
        fr.error = "chain " + std::string(chain_name) + " is not memguardd's";
    } else if (!claims.mangle_chain) {
        fr.error = "mangle chain " + std::string(chain_name) + " is not memguardd's";
        fr.closed_scope = "ports published through DNAT closed to everybody, INPUT as configured";
    }
    return fr;
}

// The wanted rules could not be had: program the most closed rules we can instead.
void LegacyBackend::fall_back(const FamilyDesired& want, FamilyReport& report) {
    try {
        std::vector<std::uint16_t> ports = all_ports(want);
        add_guarded_ports(tables_->snapshot(report.family), ports);
        const FamilyDesired closing = fail_closed_state(ports).of(report.family);
        const FamilyReport closed = reconcile_family(closing, FirstLook::locked, true);
        report.fail_closed = true;
        report.committed = report.committed || closed.committed;
        report.unlocked = report.unlocked || closed.unlocked;
        report.refused = closed.refused;
    } catch (const std::exception& e) {
        report.error += std::string("; failing closed failed too: ") + e.what();
    }
}

Report LegacyBackend::reconcile(const Desired& desired, PassKind kind) {
    Report report;
    for (const auto family : both_families) {
        FamilyReport fr;
        try {
            fr = reconcile_family(desired.of(family), first_look(kind));
        } catch (const std::exception& e) {
            fr = FamilyReport{};
            fr.family = family;
            fr.error = e.what();
            fall_back(desired.of(family), fr);
        }
        report.families.push_back(std::move(fr));
    }
    return report;
}

Report LegacyBackend::compare(const Desired& desired) {
    Report report;
    for (const auto family : both_families) {
        const FamilyDesired& want = desired.of(family);
        bool mangle = true;
        auto planner = [&](const KernelView& view) {
            mangle = view.mangle.has_value();
            return memguard::compare(build_ruleset(want, claim(view)), view);
        };
        FamilyReport fr = run(family, planner, wanted_sets(want), false, FirstLook::snapshot);
        if (!mangle) {
            fr.error = no_mangle(family);
        }
        report.families.push_back(std::move(fr));
    }
    return report;
}

Report LegacyBackend::remove() {
    Report report;
    for (const auto family : both_families) {
        std::vector<std::string> refused;
        KernelView before;
        auto planner = [&](const KernelView& v) {
            Comparison c;
            c.plan = removal_plan(v);
            refused = claim(v).refused;
            before = v;
            return c;
        };
        FamilyReport fr;
        try {
            fr = run(family, planner, {set_name(family)}, true, FirstLook::locked);
            fr.refused = std::move(refused);
            fr.actions = removed_parts(before, fr.committed);
        } catch (const std::exception& e) {
            fr.family = family;
            fr.error = e.what();
        }
        report.families.push_back(std::move(fr));
    }
    return report;
}

std::vector<std::uint16_t> LegacyBackend::guarded_ports() {
    std::vector<std::uint16_t> ports;
    for (const auto family : both_families) {
        try {
            add_guarded_ports(tables_->snapshot(family), ports);
        } catch (const std::exception&) {
            // A table we cannot read guards nothing we could learn from; the pass will say why.
        }
    }
    return ports;
}

KernelView LegacyBackend::read_family(Family family) {
    return with_sets({set_name(family)}, tables_->snapshot(family));
}

std::vector<FamilyView> LegacyBackend::read() {
    std::vector<FamilyView> views;
    for (const auto family : both_families) {
        views.push_back(view_of(read_family(family)));
    }
    return views;
}

std::unique_ptr<Backend> make_legacy_backend() {
    return std::make_unique<LegacyBackend>(make_iptc_tables());
}

} // namespace memguard
