// The library's face: one call per pass. Policy → desired state → the backend's reconcile →
// revocation of connections the rules no longer allow. The daemon and the CLI come through
// here and know the backend only by its name.
#pragma once

#include "backend.hpp"
#include "labels.hpp"
#include "policy.hpp"
#include "revocation.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace memguard {

struct Pass {
    Report report;
    // The connections cut after a pass that applied, repaired or failed; none after a verify
    // pass that found nothing. `revocation_error` says why the sweep itself failed.
    std::optional<Revocation> revocation;
    std::string revocation_error;
    // The other backend's rules of ours, taken out after this pass put ours in (a switch of
    // backend, or leftovers from before one); empty when there were none.
    std::string retired;
    std::string retire_error;
};

class Guard {
public:
    // The backend `choice` picks (pick_backend).
    explicit Guard(BackendChoice choice);
    explicit Guard(const BackendPick& pick);

    // One pass. With a policy that asks for another backend, the new backend's rules go in
    // first and the old one's come out after, so the port is never open in between.
    Pass pass(const Policy& policy, PassKind kind);
    // Compares only; never writes. Throws when the kernel cannot be read.
    Report compare(const Policy& policy);
    std::vector<FamilyView> read();
    // Loopback only, on the default ports, on `also`, and on every port our rules guard now.
    Policy fail_closed_policy(const std::vector<std::uint16_t>& also = {});

    [[nodiscard]] Backend& backend() { return *backend_; }
    [[nodiscard]] std::string_view backend_name() const { return backend_->name(); }
    // Why this backend: "the config asks for it", "\"auto\" and the kernel has legacy x_tables".
    [[nodiscard]] const std::string& backend_why() const { return why_; }

private:
    Guard(const BackendPick& pick, BackendChoice choice);
    const Desired& desired_for(const Policy& policy);
    void use(BackendChoice kind);
    void follow(BackendChoice choice);
    void retire_other(Pass& pass);
    std::unique_ptr<Backend> backend_;
    BackendChoice choice_ = BackendChoice::automatic;
    std::string why_;
    std::string unusable_; // why the backend asked for could not be had; empty: it is in use
    // The labels of the policy before the last change, for the networks a new policy revokes.
    LabelIndex labels_before_;
    LabelIndex labels_;
    std::optional<std::pair<Policy, Desired>> desired_; // the last policy's
    bool other_checked_ = false; // the other backend's leftovers were looked for
};

// The backend whose rules of ours are in the kernel (a previous run's), when only one holds
// any; pick_backend(automatic) otherwise. Failing closed without a readable config keeps to it.
BackendPick backend_holding_ours();

// The backend that is not `than`, when this kernel has it; nullptr otherwise.
std::unique_ptr<Backend> make_other_backend(const Backend& than);

struct Removal {
    std::string backend;              // its name
    std::vector<std::uint16_t> ports; // what our rules guarded before (guarded_ports())
    Report report; // per family: `actions` says what went, `error` what could not
};

// What our rules judge beyond INPUT in every backend this kernel has (rules of ours may linger in
// the one not running), merged; `unreadable` names each backend that could not be read and why.
struct CoverageEverywhere {
    Coverage coverage;
    std::vector<std::string> unreadable;
};
CoverageEverywhere coverage_everywhere();

// Takes out what is ours, from every backend this kernel has (iptables-legacy only where the
// kernel has legacy x_tables), and nothing else.
std::vector<Removal> remove_everywhere();

} // namespace memguard
