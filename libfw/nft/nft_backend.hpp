// The nftables backend: our own table `inet memguard` (owned by our netlink socket and
// persistent, kernel 6.9+), base chains `input` and `prerouting` (the DNAT path) jumping per
// family, protocol and port to guard4/guard6, the allowlist in interval sets (allow4/allow6, one
// per guard); both families in one atomic batch; change events from NFNLGRP_NFTABLES. The work is
// done by nft::Keeper (keeper.hpp); this turns its results into the seam's Report and views.
#pragma once

#include "backend.hpp"
#include "keeper.hpp"

#include <memory>

namespace memguard {

class NftBackend final : public Backend {
public:
    explicit NftBackend(nft::NftOptions options = {}); // throws KernelError

    [[nodiscard]] BackendChoice kind() const override { return BackendChoice::nftables; }
    [[nodiscard]] std::string_view how_to_see() const override {
        return "the rules are in nftables table inet memguard: nft list table inet memguard "
               "shows them";
    }
    Report reconcile(const Desired& desired, PassKind kind) override;
    Report compare(const Desired& desired) override;
    Report remove() override;
    std::vector<FamilyView> read() override;
    std::vector<std::uint16_t> guarded_ports() override;
    std::vector<BlockedCount> blocked() override;
    Coverage coverage() override;                           // coverage.cpp
    KernelExplain explain(const Network& address) override; // explain.cpp
    [[nodiscard]] int change_fd() const override { return keeper_.change_fd(); }
    bool changed() override;

    // False when the table is unowned: the kernel lacks NFT_TABLE_F_OWNER|PERSIST (before 6.9;
    // ownership_note() says so; asked of the kernel again at every full pass) or the options
    // asked for it.
    [[nodiscard]] bool owned() const { return keeper_.owned(); }
    [[nodiscard]] const std::string& ownership_note() const { return keeper_.ownership_note(); }
    [[nodiscard]] std::string caveat() const override { return keeper_.ownership_note(); }
    // For tests: table dumps made so far.
    [[nodiscard]] std::uint64_t dumps() const { return keeper_.dumps(); }

private:
    nft::Keeper keeper_;
};

// The nftables backend with an owned table. MEMGUARD_TEST_NFT_UNOWNED=1 in the environment of a
// build with the test hooks (checkpoint.hpp) makes the table unowned, so the `nft` CLI can tamper
// with it.
std::unique_ptr<Backend> make_nft_backend();

// A pass's result as the seam's report: one FamilyReport per family, both sharing the batch's
// outcome (nftables commits both families together).
Report report_of(const nft::PassResult& result);

// `status`'s picture of one family in our tables.
FamilyView view_of(const nft::Snapshot& snap, Family family);

} // namespace memguard
