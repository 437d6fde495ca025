// The iptables-legacy backend: our MEMGUARD chain with jumps at the top of INPUT, the allowlist
// in `-s` rules or (past set_threshold networks of a guard) the guard's ipset; the same chain in
// the mangle table with jumps at the top of mangle FORWARD for the DNAT path, and the strict
// reverse-path drops at the top of mangle PREROUTING. Each family's two tables are one libiptc
// transaction each, under one hold of the xtables lock. Polling is its only way to see drift.
#pragma once

#include "backend.hpp"
#include "diff.hpp"
#include "tables.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace memguard {

// How a writing pass looks at the table first. A lock-free snapshot costs one more copy of the
// table when there is something to write, and saves libiptc and the lock when there is not:
// right for the timer's verify passes, wrong for an apply that is expected to change things.
enum class FirstLook : std::uint8_t { snapshot, locked };

class LegacyBackend final : public Backend {
public:
    explicit LegacyBackend(std::unique_ptr<Tables> tables) : tables_(std::move(tables)) {}

    [[nodiscard]] BackendChoice kind() const override { return BackendChoice::iptables_legacy; }
    [[nodiscard]] std::string_view how_to_see() const override {
        return "the rules are in the legacy tables: iptables-legacy -L -n -v shows them; "
               "Debian's plain `iptables` is the nft variant";
    }
    Report reconcile(const Desired& desired, PassKind kind) override;
    Report compare(const Desired& desired) override;
    Report remove() override;
    std::vector<FamilyView> read() override;
    std::vector<std::uint16_t> guarded_ports() override;
    std::vector<BlockedCount> blocked() override;
    Coverage coverage() override;                           // coverage.cpp
    KernelExplain explain(const Network& address) override; // explain.cpp

private:
    // The kernel's rules as they are, and our set if there is one.
    KernelView read_family(Family family);
    // `without_mangle`: a kernel without a mangle table is no error (fall_back's pass).
    FamilyReport reconcile_family(const FamilyDesired& want, FirstLook first,
                                  bool without_mangle = false);
    void fall_back(const FamilyDesired& want, FamilyReport& report);
    // `wanted`: the sets to read besides those our chains match on.
    template <class Planner>
    FamilyReport run(Family family, Planner planner, const std::vector<std::string>& wanted,
                     bool write, FirstLook first);
    KernelView with_sets(const std::vector<std::string>& wanted, KernelView view);
    std::unique_ptr<Transaction> begin_locked(Family family, const std::vector<std::string>& wanted,
                                              KernelView& view);
    std::unique_ptr<Tables> tables_;
    // The view of each family (both_families' order) a pass read and left as it was: blocked()
    // counts from it rather than read both tables again, as the metrics do after every pass.
    // Taken once, and only while fresh.
    struct Seen {
        KernelView view;
        std::chrono::steady_clock::time_point at;
    };
    std::array<std::optional<Seen>, 2> seen_;
};

std::unique_ptr<Backend> make_legacy_backend();

// Whether the kernel has legacy x_tables here (the IPv4 filter table can be opened).
bool legacy_tables_present();

// The report's words for what a comparison found.
std::vector<Drift> in_words(const std::vector<ChainDrift>& drift);

// What remove() took out of one family, from the view before it: "removed 2 rule(s) in INPUT
// and chain MEMGUARD", or that nothing of ours was there.
std::string removed_parts(const KernelView& before, bool committed);

// What one family's view holds for the source `address` (explain.cpp).
KernelExplain explain_in(const KernelView& view, const Network& address);

// `status`'s picture of one family.
FamilyView view_of(const KernelView& view);

// What our closing rules in one family's view counted, per protocol our rules guard (blocked.cpp).
std::vector<BlockedCount> blocked_in(const KernelView& view);

} // namespace memguard
