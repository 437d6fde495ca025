#include "nft_backend.hpp"

#include "blocked.hpp"
#include "checkpoint.hpp"

#include <string_view>

namespace memguard {

NftBackend::NftBackend(nft::NftOptions options) : keeper_(options) {}

Report report_of(const nft::PassResult& result) {
    Report report;
    for (const Family family : both_families) {
        FamilyReport f;
        f.family = family;
        for (const nft::Drift& d : result.drift) {
            if (!d.family || *d.family == family) {
                f.drift.push_back({family, d.kind, d.where, d.text});
            }
        }
        for (const Network& n : result.revoked) {
            if (n.family == family) {
                f.revoked.push_back(n);
            }
        }
        f.committed = result.committed;
        f.attempts = result.attempts;
        f.fail_closed = result.fail_closed;
        f.error = result.error;
        f.refused = result.refused;
        f.actions = result.actions;
        report.families.push_back(std::move(f));
    }
    return report;
}

Report NftBackend::reconcile(const Desired& desired, PassKind kind) {
    return report_of(keeper_.reconcile(desired, kind == PassKind::verify));
}

Report NftBackend::compare(const Desired& desired) {
    return report_of(keeper_.compare(desired));
}

Report NftBackend::remove() {
    return report_of(keeper_.remove());
}

std::vector<FamilyView> NftBackend::read() {
    const nft::Snapshot snap = keeper_.read();
    return {view_of(snap, Family::ipv4), view_of(snap, Family::ipv6)};
}

std::vector<std::uint16_t> NftBackend::guarded_ports() {
    return keeper_.guarded_ports();
}

std::vector<BlockedCount> NftBackend::blocked() {
    return nft::blocked_counts(keeper_.read());
}

bool NftBackend::changed() {
    try {
        return keeper_.changed();
    } catch (const std::exception&) {
        return true; // the event socket failed us: only a full read tells the truth now
    }
}

std::unique_ptr<Backend> make_nft_backend() {
    nft::NftOptions options;
    const char* unowned = test_hook("MEMGUARD_TEST_NFT_UNOWNED");
    options.own_table = unowned == nullptr || std::string_view(unowned) != "1";
    return std::make_unique<NftBackend>(options);
}

} // namespace memguard
