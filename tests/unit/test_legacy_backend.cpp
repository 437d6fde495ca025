// LegacyBackend's passes over a stand-in for the kernel: what it does when the kernel has the
// filter table but no mangle table (iptable_mangle neither built in nor loadable), which no
// namespace test can make happen on a kernel that has it.
#include "support.hpp"

#include "legacy/legacy_backend.hpp"
#include "legacy/tables.hpp"

#include <memory>
#include <string>
#include <vector>

using memguard::Family;
using memguard::KernelView;
using memguard::Plan;

namespace {

// Both families' filter tables, empty at first; no mangle table anywhere. A commit applies a
// plan the way the kernel would to a table that held only our rules (enough for these passes).
struct FakeKernel {
    KernelView views[2];
    std::vector<Plan> commits;
    int snapshots = 0; // lock-free reads of a family's tables
    KernelView& of(Family f) { return views[f == Family::ipv4 ? 0 : 1]; }
};

class FakeTransaction final : public memguard::Transaction {
public:
    FakeTransaction(FakeKernel& k, Family f) : kernel_(k), family_(f) {}
    [[nodiscard]] KernelView read() const override { return kernel_.of(family_); }
    void apply(const Plan& plan) override { pending_ = plan; }
    void commit() override {
        KernelView& v = kernel_.of(family_);
        v.family = family_;
        v.chain_exists = true;
        v.chain.clear();
        for (const auto& r : pending_.insert) {
            v.chain.push_back(unit::kernel(r));
        }
        v.input.clear();
        for (const auto& r : pending_.jumps) {
            v.input.push_back(unit::kernel(r));
        }
        v.chain_references = static_cast<std::uint32_t>(pending_.jumps.size());
        kernel_.commits.push_back(pending_);
    }
    [[nodiscard]] bool unlocked() const override { return false; }

private:
    FakeKernel& kernel_;
    Family family_;
    Plan pending_;
};

class FakeTables final : public memguard::Tables {
public:
    explicit FakeTables(FakeKernel& k) : kernel_(k) {}
    KernelView snapshot(Family f) override {
        ++kernel_.snapshots;
        KernelView v = kernel_.of(f);
        v.family = f;
        return v;
    }
    std::unique_ptr<memguard::Transaction> begin(Family f, memguard::LockWait) override {
        return std::make_unique<FakeTransaction>(kernel_, f);
    }
    std::optional<memguard::SetState> read_set(Family, const std::string&) override {
        return std::nullopt;
    }
    void load_set(Family, const std::string&, const std::vector<memguard::Network>&,
                  const std::optional<memguard::SetState>&) override {}
    void drop_set(Family, const std::string&) override {}

private:
    FakeKernel& kernel_;
};

} // namespace

TEST_CASE("legacy backend: no mangle table fails the pass, and INPUT still fails closed") {
    FakeKernel kernel;
    memguard::LegacyBackend backend(std::make_unique<FakeTables>(kernel));
    const auto desired = memguard::desired_state(unit::seed_policy());
    const auto report = backend.reconcile(desired, memguard::PassKind::apply);
    REQUIRE(report.families.size() == 2);
    for (const auto& f : report.families) {
        INFO(f.error);
        CHECK(f.error.find("no legacy mangle table") != std::string::npos);
        CHECK(f.fail_closed);
        CHECK(f.committed);
    }
    // Only the fail-closed rules were written (nothing of the wanted allowlist first), and no
    // mangle edit was asked of a table that is not there.
    REQUIRE(kernel.commits.size() == 2);
    for (const auto& plan : kernel.commits) {
        CHECK(plan.mangle.empty());
        CHECK(unit::specs(plan.insert) ==
              std::vector<std::string>{"-i lo -m comment --comment memguard -j ACCEPT",
                                       "-p tcp -m comment --comment memguard -j DROP",
                                       "-m comment --comment memguard -j DROP"});
        CHECK(plan.jumps.size() == 2);
    }
    // The next pass fails the same way, before writing, and finds the closed rules in place:
    // no flapping between the wanted rules and the closed ones.
    const auto again = backend.reconcile(desired, memguard::PassKind::verify);
    CHECK(kernel.commits.size() == 2);
    for (const auto& f : again.families) {
        CHECK(f.fail_closed);
        CHECK(f.error.find("no legacy mangle table") != std::string::npos);
    }
    // diff says so too, without failing on the filter table
    const auto compared = backend.compare(desired);
    for (const auto& f : compared.families) {
        CHECK(f.error.find("no legacy mangle table") != std::string::npos);
    }
}

// A pass that reads without writing (here a comparison; the stand-in has no mangle table, so
// its verify passes fail closed under the lock) leaves its view for the counters.
TEST_CASE("legacy backend: the counters after a pass that wrote nothing come from its read") {
    FakeKernel kernel;
    memguard::LegacyBackend backend(std::make_unique<FakeTables>(kernel));
    const auto desired = memguard::desired_state(unit::seed_policy());
    (void)backend.reconcile(desired, memguard::PassKind::apply);
    (void)backend.compare(desired);
    const int after_pass = kernel.snapshots;
    const auto counted = backend.blocked();
    CHECK(kernel.snapshots == after_pass);
    // Taken once: the next count reads both families again, and counts the same.
    CHECK(backend.blocked() == counted);
    CHECK(kernel.snapshots == after_pass + 2);
}
