#include "guard.hpp"

#include "checkpoint.hpp"
#include "legacy/legacy_backend.hpp"

#include <algorithm>
#include <malloc.h>

namespace memguard {

namespace {

BackendChoice other_than(BackendChoice kind) {
    return kind == BackendChoice::nftables ? BackendChoice::iptables_legacy
                                           : BackendChoice::nftables;
}

// The other backend, when this kernel has it at all.
std::unique_ptr<Backend> other_backend(BackendChoice kind) {
    const BackendChoice other = other_than(kind);
    if (other == BackendChoice::iptables_legacy && !legacy_tables_present()) {
        return nullptr;
    }
    try {
        return make_backend(other);
    } catch (const std::exception&) {
        return nullptr; // no nf_tables here: nothing of ours can be in it
    }
}

bool has_ours(Backend& backend) {
    return std::ranges::any_of(backend.read(), &FamilyView::has_ours);
}

std::string removed_text(const Backend& backend, const Report& report) {
    std::string out;
    for (const auto& f : report.families) {
        out += (out.empty() ? "" : "; ") + std::string(to_string(f.family)) + " " +
               (f.error.empty() ? f.actions : "FAILED: " + f.error);
    }
    return std::string(backend.name()) + ": " + out;
}

// The fail-closed rules on `desired`'s ports, in a backend that is not the one asked for.
Report fail_closed_in(Backend& backend, const Policy& policy, const std::string& why) {
    std::vector<std::uint16_t> ports = all_ports(policy);
    const auto guarded = backend.guarded_ports();
    ports.insert(ports.end(), guarded.begin(), guarded.end());
    Report report = backend.reconcile(fail_closed_state(ports), PassKind::apply);
    for (auto& f : report.families) {
        f.error = why + (f.error.empty() ? "" : "; " + f.error);
        f.fail_closed = true;
    }
    return report;
}

} // namespace

Guard::Guard(BackendChoice choice) : Guard(pick_backend(choice), choice) {}

Guard::Guard(const BackendPick& pick) : Guard(pick, pick.kind) {}

Guard::Guard(const BackendPick& pick, BackendChoice choice) : choice_(choice), why_(pick.why) {
    use(pick.kind);
}

// The backend `kind`, or, when this kernel cannot give it (no nf_tables, say), the other one
// with `unusable_` saying why: passes then fail closed there, and try `kind` again each time.
void Guard::use(BackendChoice kind) {
    try {
        backend_ = make_backend(kind);
        unusable_.clear();
    } catch (const std::exception& e) {
        unusable_ = "cannot use the " + std::string(to_string(kind)) + " backend: " + e.what();
        if (!backend_) {
            backend_ = make_backend(other_than(kind));
        }
    }
    other_checked_ = false;
}

// A new choice of backend: from here on the new one is ours, and the old one's rules are the
// other backend's leftovers, retired once the new rules are in.
void Guard::follow(BackendChoice choice) {
    if (choice == choice_ && unusable_.empty()) {
        return;
    }
    choice_ = choice;
    BackendPick pick = pick_backend(choice);
    if (pick.kind != backend_->kind() || !unusable_.empty()) {
        use(pick.kind);
    }
    why_ = std::move(pick.why);
}

void Guard::retire_other(Pass& pass) {
    if (other_checked_ || pass.report.failed()) {
        return; // the old rules stay until ours are in as asked
    }
    other_checked_ = true;
    try {
        const auto other = other_backend(backend_->kind());
        if (other && has_ours(*other)) {
            const Report removed = other->remove();
            pass.retired = removed_text(*other, removed);
            if (removed.failed()) {
                pass.retire_error = pass.retired;
                other_checked_ = false; // try again at the next apply
            }
        }
    } catch (const std::exception& e) {
        pass.retire_error = e.what();
    }
}

Pass Guard::pass(const Policy& policy, PassKind kind) {
    follow(policy.backend);
    Pass pass;
    pass.report = unusable_.empty() ? backend_->reconcile(desired_for(policy), kind)
                                    : fail_closed_in(*backend_, policy, unusable_);
    if (kind == PassKind::apply || pass.report.drift_count() > 0 || pass.report.failed()) {
        checkpoint("before_revocation");
        try {
            pass.revocation = revoke_unallowed(pass.report, policy);
            pass.revocation->labels = labels_before_.labels_of(pass.revocation->revoked);
        } catch (const std::exception& e) {
            pass.revocation_error = e.what();
        }
    }
    if (kind == PassKind::apply) {
        retire_other(pass);
    }
    // A commit through libiptc held a parsed copy of the whole table (megabytes on a busy host)
    // and freed it: hand those pages back rather than keep them for the daemon's whole life. A
    // pass that only looked would hand back what the next one takes again.
    if (kind == PassKind::apply || pass.report.changed()) {
        ::malloc_trim(0);
    }
    return pass;
}

Report Guard::compare(const Policy& policy) {
    follow(policy.backend);
    return backend_->compare(desired_for(policy));
}

// The timer's passes run with the same policy for hours: its desired state is made once.
const Desired& Guard::desired_for(const Policy& policy) {
    if (!desired_ || desired_->first != policy) {
        labels_before_ = std::exchange(labels_, LabelIndex(policy));
        if (!desired_) {
            labels_before_ = labels_;
        }
        desired_.emplace(policy, desired_state(policy));
    }
    return desired_->second;
}

std::vector<FamilyView> Guard::read() {
    return backend_->read();
}

Policy Guard::fail_closed_policy(const std::vector<std::uint16_t>& also) {
    std::vector<std::uint16_t> ports = also;
    const auto guarded = backend_->guarded_ports();
    ports.insert(ports.end(), guarded.begin(), guarded.end());
    Policy policy = memguard::fail_closed_policy(ports);
    policy.backend = choice_;
    return policy;
}

BackendPick backend_holding_ours() {
    std::vector<BackendChoice> holding;
    for (const auto kind : {BackendChoice::iptables_legacy, BackendChoice::nftables}) {
        try {
            if (kind == BackendChoice::nftables || legacy_tables_present()) {
                if (has_ours(*make_backend(kind))) {
                    holding.push_back(kind);
                }
            }
        } catch (const std::exception&) {
            // Unreadable here: it holds nothing we could keep to.
        }
    }
    if (holding.size() != 1) {
        return pick_backend(BackendChoice::automatic);
    }
    return {holding.front(), "no valid config; the rules of ours already in the kernel are in " +
                                 std::string(to_string(holding.front()))};
}

std::unique_ptr<Backend> make_other_backend(const Backend& than) {
    return other_backend(than.kind());
}

namespace {

void append(std::vector<PathGuard>& to, const std::vector<PathGuard>& from) {
    to.insert(to.end(), from.begin(), from.end());
}

} // namespace

CoverageEverywhere coverage_everywhere() {
    CoverageEverywhere out;
    for (const auto kind : {BackendChoice::iptables_legacy, BackendChoice::nftables}) {
        if (kind == BackendChoice::iptables_legacy && !legacy_tables_present()) {
            continue;
        }
        try {
            const Coverage c = make_backend(kind)->coverage();
            append(out.coverage.before_nat, c.before_nat);
            append(out.coverage.dnat_forward, c.dnat_forward);
            out.coverage.reverse_path.insert(out.coverage.reverse_path.end(),
                                             c.reverse_path.begin(), c.reverse_path.end());
            out.coverage.reverse_path_local_only.insert(out.coverage.reverse_path_local_only.end(),
                                                        c.reverse_path_local_only.begin(),
                                                        c.reverse_path_local_only.end());
            out.coverage.tables.insert(out.coverage.tables.end(), c.tables.begin(), c.tables.end());
        } catch (const std::exception& e) {
            out.unreadable.push_back(std::string(to_string(kind)) + ": " + e.what());
        }
    }
    return out;
}

std::vector<Removal> remove_everywhere() {
    std::vector<Removal> removals;
    for (const auto kind : {BackendChoice::iptables_legacy, BackendChoice::nftables}) {
        if (kind == BackendChoice::iptables_legacy && !legacy_tables_present()) {
            continue;
        }
        std::unique_ptr<Backend> backend;
        try {
            backend = make_backend(kind);
        } catch (const std::exception& e) {
            Removal failed{std::string(to_string(kind)), {}, {}};
            for (const auto family : both_families) {
                FamilyReport fr;
                fr.family = family;
                fr.error = e.what();
                failed.report.families.push_back(std::move(fr));
            }
            removals.push_back(std::move(failed));
            continue;
        }
        auto ports = backend->guarded_ports();
        removals.push_back({std::string(backend->name()), std::move(ports), backend->remove()});
    }
    return removals;
}

} // namespace memguard
