// Ownership rule: the table `inet memguard` is ours iff its userdata carries our marker (the
// comment "memguardd"). A table of that name without the marker is somebody else's: we never
// flush, delete or adopt it, we report it as refused, and we fail closed in a second table of
// ours, `inet memguard_closed` (same marker). Nothing else in the ruleset is ever changed.
#include "keeper.hpp"

#include "plan.hpp"

#include <algorithm>
#include <cerrno>

namespace memguard::nft {

namespace {

constexpr unsigned kCommitAttempts = 5;

} // namespace

bool ours(const std::optional<TableModel>& t) {
    return t && t->ours();
}

void delete_ours(Batch& batch, const TableModel& table, std::uint32_t portid) {
    // An orphan (PERSIST, its owner gone) is adopted, as the kernel lets any process do; a table
    // another live process owns refuses this with EPERM, and the batch with it.
    const bool owned_or_orphan = (table.flags & (kTableFlagOwner | kTableFlagPersist)) != 0;
    if (owned_or_orphan && table.owner != portid) {
        add_new_table(batch, table.name, kTableFlagOwner | kTableFlagPersist, true);
    }
    add_delete_table(batch, table.name);
}

std::vector<std::uint16_t> guarded_ports(const Snapshot& snap) {
    std::vector<std::uint16_t> ports;
    for (const auto* table : {&snap.main, &snap.closed}) {
        for (const std::string_view name : {kInputChain, kPreroutingChain}) {
            const ChainModel* chain = ours(*table) ? (*table)->chain(name) : nullptr;
            for (const RuleModel& r : chain != nullptr ? chain->rules : std::vector<RuleModel>{}) {
                if (r.dport && !r.jump.empty()) {
                    ports.push_back(*r.dport);
                }
            }
        }
    }
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    return ports;
}

Keeper::Keeper(NftOptions options) : owned_(options.own_table) {}

std::uint32_t Keeper::table_flags() const {
    return owned_ ? kTableFlagOwner | kTableFlagPersist : 0;
}

bool Keeper::changed() {
    const bool changed = events_.drain(kernel_.portid());
    if (changed) {
        in_sync_generation_.reset();
    }
    return changed;
}

Snapshot Keeper::read() {
    return kernel_.snapshot();
}

std::vector<std::uint16_t> Keeper::guarded_ports() {
    try {
        return nft::guarded_ports(kernel_.snapshot());
    } catch (const std::exception&) {
        return {};
    }
}

// One batch: `table` rebuilt from `desired`, our old tables out first (the fail-closed one
// included). The fail-closed table is built beside inet memguard and never touches it.
void Keeper::rebuild(std::string_view table, const Desired& desired, const Snapshot& snap) {
    const TablePlan plan = plan_table(table, desired);
    const bool main_too = table == kTableName;
    for (;;) {
        Batch batch(kernel_.next_seq(), snap.generation);
        for (const auto* t : {&snap.main, &snap.closed}) {
            if (ours(*t) && (main_too || t == &snap.closed)) {
                delete_ours(batch, **t, kernel_.portid());
            }
        }
        add_table(batch, plan, table_flags());
        batch.end();
        try {
            kernel_.commit(batch);
            return;
        } catch (const BatchRefused& e) {
            // Kernels before 6.9 know no PERSIST flag: fall back to an unowned table, once.
            if (e.error() != EOPNOTSUPP || !owned_ || !e.message().starts_with("add table")) {
                throw;
            }
            owned_ = false;
            ownership_note_ = "the kernel refused an owned nftables table (" +
                              std::string(e.what()) + "); the table is unowned";
        }
    }
}

PassResult Keeper::compare(const Desired& desired) {
    return compare_with(desired, kernel_.snapshot());
}

PassResult Keeper::compare_with(const Desired& desired, const Snapshot& snap) const {
    const TableModel wanted = model_of(plan_table(kTableName, desired));
    PassResult result;
    result.drift = compare_tables(wanted, snap.main, ownership());
    if (ours(snap.closed)) {
        result.drift.push_back({std::nullopt, "fail_closed_table", std::string(kClosedTableName),
                                "table inet memguard_closed (fail-closed rules) is in place"});
    }
    result.revoked = revoked_networks(wanted, snap.main, Family::ipv4);
    const auto six = revoked_networks(wanted, snap.main, Family::ipv6);
    result.revoked.insert(result.revoked.end(), six.begin(), six.end());
    return result;
}

void Keeper::apply(const Desired& desired, PassResult& result) {
    for (unsigned attempt = 1;; ++attempt) {
        const Snapshot snap = kernel_.snapshot();
        if (snap.main && !snap.main->ours()) {
            result.refused.emplace_back(kRefused);
            fail_closed(desired, snap, result);
            return;
        }
        const PassResult found = compare_with(desired, snap);
        if (attempt == 1) {
            result.drift = found.drift;
            result.revoked = found.revoked;
        }
        if (found.drift.empty()) {
            in_sync_generation_ = snap.generation;
            in_sync_desired_ = desired;
            return;
        }
        try {
            result.attempts = attempt;
            rebuild(kTableName, desired, snap);
            result.committed = true;
            result.actions = "rebuilt table inet memguard";
            return;
        } catch (const GenerationMoved&) {
            if (attempt == kCommitAttempts) {
                throw;
            }
        }
    }
}

PassResult Keeper::reconcile(const Desired& desired, bool verify) {
    PassResult result;
    try {
        if (verify && in_sync_generation_ && in_sync_desired_ == desired &&
            kernel_.generation() == *in_sync_generation_) {
            return result;
        }
        in_sync_generation_.reset();
        apply(desired, result);
    } catch (const std::exception& e) {
        result.error = e.what();
        fail_closed(desired, std::nullopt, result);
    }
    return result;
}

} // namespace memguard::nft
