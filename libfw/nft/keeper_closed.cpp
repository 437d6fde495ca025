// The two passes that may only take away: failing closed and removing our tables.
#include "keeper.hpp"

#include "plan.hpp"

#include <algorithm>
#include <cerrno>

namespace memguard::nft {

namespace {

constexpr unsigned kCommitAttempts = 5;

std::string ports_text(const Desired& d) {
    std::string out;
    for (const std::uint16_t p : d.ipv4.guards.front().ports) {
        out.append(out.empty() ? "" : ",").append(std::to_string(p));
    }
    return out;
}

// The fail-closed table to write (free_closed_table); its name taken as well is reported, and
// is an error when there is nowhere left of ours to fail closed in.
std::string_view closed_table_for(const Snapshot& snap, PassResult& result) {
    const auto table = free_closed_table(snap);
    if (table == kClosedTableName) {
        return *table;
    }
    if (std::ranges::count(result.refused, kRefusedClosed) == 0) { // once per pass
        result.refused.emplace_back(kRefusedClosed);
        result.error.append(result.error.empty() ? "" : "; ").append(kRefusedClosed);
        if (table) {
            result.error.append(": failing closed in table inet ").append(*table);
        }
    }
    if (!table) {
        throw netlink::NetlinkError("no table name of ours is free to fail closed in: inet " +
                                        std::string(kClosedAltTableName) +
                                        " is not memguardd's either",
                                    EEXIST);
    }
    return *table;
}

} // namespace

// The fail-closed rules into our table; into inet memguard_closed (or _alt) when the name is
// taken by somebody else's table, or when the kernel refuses to let us write ours. (A table of
// ours another live memguardd owns is left to it before this: fail_closed.) Returns the table
// written; nullopt when the rules were in place already.
std::optional<std::string_view> Keeper::fail_closed_once(const Desired& desired,
                                                         const Snapshot& snap, PassResult& result) {
    const Desired closed = fail_closed_desired(desired, nft::guarded_ports(snap));
    if (!snap.main || snap.main->ours()) {
        try {
            rebuild(kTableName, closed, snap);
            return kTableName;
        } catch (const BatchRefused& e) {
            result.error.append(result.error.empty() ? "" : "; ").append(e.what());
        }
    }
    const std::string_view table = closed_table_for(snap, result);
    const TableModel wanted = model_of(plan_table(table, closed));
    const auto& found = table == kClosedTableName ? snap.closed : snap.closed_alt;
    const bool other_closed_ours =
        table == kClosedTableName ? ours(snap.closed_alt) : ours(snap.closed);
    if (compare_tables(wanted, found, ownership()).empty() && !other_closed_ours) {
        return std::nullopt;
    }
    rebuild(table, closed, snap);
    return table;
}

void Keeper::fail_closed(const Desired& desired, const std::optional<Snapshot>& known,
                         PassResult& result) {
    result.fail_closed = true;
    in_sync_generation_.reset();
    if (result.error.empty() && known && known->main && !known->main->ours()) {
        result.error = kRefused;
    }
    try {
        for (unsigned attempt = 1;; ++attempt) {
            const Snapshot snap = attempt == 1 && known ? *known : kernel_.snapshot();
            if (held_by_another(snap)) {
                leave_to_owner(snap, result);
                return;
            }
            try {
                result.attempts = attempt;
                if (const auto table = fail_closed_once(desired, snap, result)) {
                    const Desired closed = fail_closed_desired(desired, nft::guarded_ports(snap));
                    result.committed = true;
                    result.actions = "failed closed in table inet " + std::string(*table) +
                                     ": loopback only on ports " + ports_text(closed);
                }
                return;
            } catch (const GenerationMoved&) {
                if (attempt == kCommitAttempts) {
                    throw;
                }
            }
        }
    } catch (const std::exception& e) {
        result.error.append(result.error.empty() ? "" : "; ").append("failing closed: ");
        result.error.append(e.what());
    }
}

PassResult Keeper::remove() {
    PassResult result;
    in_sync_generation_.reset();
    try {
        for (unsigned attempt = 1;; ++attempt) {
            const Snapshot snap = kernel_.snapshot();
            result.refused.clear();
            if (snap.main && !snap.main->ours()) {
                result.refused.emplace_back(kRefused);
            }
            Batch batch(kernel_.next_seq(), snap.generation);
            std::string actions;
            for (const auto* t : snap.tables()) {
                if (ours(*t)) {
                    delete_ours(batch, **t, kernel_.portid());
                    actions.append(actions.empty() ? "" : ", ").append("deleted table inet ");
                    actions.append((*t)->name);
                }
            }
            if (actions.empty()) {
                return result;
            }
            batch.end();
            try {
                result.attempts = attempt;
                kernel_.commit(batch);
                result.committed = true;
                result.actions = actions;
                return result;
            } catch (const GenerationMoved&) {
                if (attempt == kCommitAttempts) {
                    throw;
                }
            }
        }
    } catch (const std::exception& e) {
        result.error = std::string("remove: ") + e.what();
    }
    return result;
}

} // namespace memguard::nft
