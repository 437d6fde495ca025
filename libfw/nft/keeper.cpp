// Ownership rule: the table `inet memguard` is ours iff its userdata carries our marker (the
// comment "memguardd"). A table of that name without the marker is somebody else's: we never
// flush, delete, adopt or write into it, we report it as refused, and we fail closed in a second
// table of ours, `inet memguard_closed` (same marker), or `inet memguard_closed_alt` when that
// name is somebody else's too. Nothing else in the ruleset is ever changed.
#include "keeper.hpp"

#include "checkpoint.hpp"
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

std::optional<std::string_view> free_closed_table(const Snapshot& snap) {
    if (!snap.closed || snap.closed->ours()) {
        return kClosedTableName;
    }
    if (!snap.closed_alt || snap.closed_alt->ours()) {
        return kClosedAltTableName;
    }
    return std::nullopt;
}

std::vector<std::uint16_t> guarded_ports(const Snapshot& snap) {
    std::vector<std::uint16_t> ports;
    for (const auto* table : snap.tables()) {
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

Keeper::Keeper(NftOptions options) : own_wanted_(options.own_table), owned_(options.own_table) {}

void Keeper::learn_ownership() {
    if (!own_wanted_) {
        owned_ = false;
        return;
    }
    OwnedTables answer = OwnedTables::unknown;
    try {
        answer = kernel_.probe_owned_tables();
    } catch (const std::exception&) {
        // The probe could not be asked (a send failed): keep what we knew, as for a taken name.
    }
    switch (answer) {
    case OwnedTables::supported:
        owned_ = true;
        ownership_note_.clear();
        break;
    case OwnedTables::unsupported:
        owned_ = false;
        ownership_note_ = "the kernel does not support owned nftables tables (flags owner and "
                          "persist, Linux 6.9 and later); the table is unowned";
        break;
    case OwnedTables::unknown: // the probe's name is taken: keep what we knew
        break;
    }
}

std::uint32_t Keeper::table_flags() const {
    return owned_ ? kTableFlagOwner | kTableFlagPersist : 0;
}

// The pass this calls for still skips the read when the generation did not move: every change
// to the ruleset, by anybody, bumps it, so an event (or a lost one: our own batch of a big set
// overflows the socket) without a new generation changed nothing of ours.
bool Keeper::changed() {
    return events_.drain(kernel_.portid());
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

// One batch: `table` rebuilt from `desired`, our old tables out first (the fail-closed ones
// included). A fail-closed table is built beside inet memguard and never touches it. Only a
// table of ours or none is ever written: the new table is created with NLM_F_EXCL.
void Keeper::rebuild(std::string_view table, const Desired& desired, const Snapshot& snap) {
    const TablePlan plan = plan_table(table, desired);
    const bool main_too = table == kTableName;
    for (;;) {
        Batch batch(kernel_.next_seq(), snap.generation);
        for (const auto* t : snap.tables()) {
            if (ours(*t) && (main_too || t != &snap.main)) {
                delete_ours(batch, **t, kernel_.portid());
            }
        }
        add_table(batch, plan, table_flags());
        batch.end();
        try {
            kernel_.commit(batch);
            return;
        } catch (const BatchRefused& e) {
            // The new table is ours (NLM_F_EXCL): the kernel lacks the flags (before 6.9) and
            // the probe could not tell. Unowned until a probe says otherwise.
            if (e.error() != EOPNOTSUPP || !owned_ || !e.message().starts_with("add table")) {
                throw;
            }
            owned_ = false;
            ownership_note_ = "the kernel refused an owned nftables table of ours (" +
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
    for (const auto* closed : {&snap.closed, &snap.closed_alt}) {
        if (ours(*closed)) {
            const std::string& name = (*closed)->name;
            result.drift.push_back({std::nullopt, "fail_closed_table", name,
                                    "table inet " + name + " (fail-closed rules) is in place"});
        }
    }
    result.revoked = revoked_networks(wanted, snap.main, Family::ipv4);
    const auto six = revoked_networks(wanted, snap.main, Family::ipv6);
    result.revoked.insert(result.revoked.end(), six.begin(), six.end());
    return result;
}

bool Keeper::held_by_another(const Snapshot& snap) const {
    return snap.main && snap.main->owner && *snap.main->owner != kernel_.portid() &&
           (snap.main->flags & kTableFlagOwner) != 0;
}

// Another memguardd (`apply --once --force` beside the daemon) keeps our table: the kernel would
// refuse any change, and failing closed beside it would cut the allowed clients the owner lets in.
void Keeper::leave_to_owner(const Snapshot& snap, PassResult& result) {
    result.fail_closed = false;
    result.error.append(result.error.empty() ? "" : "; ")
        .append("table inet memguard is owned by another process (netlink port " +
                std::to_string(*snap.main->owner) +
                "), the memguardd that keeps it; nothing changed");
}

void Keeper::apply(const Desired& desired, PassResult& result) {
    for (unsigned attempt = 1;; ++attempt) {
        const Snapshot snap = kernel_.snapshot();
        checkpoint("nft_after_read");
        if (snap.main && !snap.main->ours()) {
            result.refused.emplace_back(kRefused);
            fail_closed(desired, snap, result);
            return;
        }
        if (held_by_another(snap)) {
            leave_to_owner(snap, result);
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
            remember_own_commit(desired, snap.generation);
            return;
        } catch (const GenerationMoved&) {
            if (attempt == kCommitAttempts) {
                throw;
            }
        }
    }
}

// The batch carried `read_at` as its generation id, so the kernel applied it on top of what the
// snapshot read; each commit bumps the generation by one. Found one above `read_at`, nobody
// committed after us and the table is exactly what we wrote: the next verify need not read it.
// Anything else (a commit after ours, a read that fails) leaves the next verify to read it all.
void Keeper::remember_own_commit(const Desired& desired, std::uint32_t read_at) {
    const std::uint32_t ours_at = read_at + 1;
    try {
        if (ours_at != 0 && kernel_.generation() == ours_at) {
            in_sync_generation_ = ours_at;
            in_sync_desired_ = desired;
        }
    } catch (const std::exception&) {
        // unknown: the next verify reads the table
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
        learn_ownership();
        apply(desired, result);
    } catch (const std::exception& e) {
        result.error = e.what();
        fail_closed(desired, std::nullopt, result);
    }
    return result;
}

} // namespace memguard::nft
