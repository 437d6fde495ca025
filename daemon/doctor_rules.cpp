// What `doctor` reads of the kernel beyond the backend's own view: every DNAT/REDIRECT (anybody's
// rules), and what memguardd's rules judge on the paths beyond INPUT, as each backend says with
// its own rule of what is ours (coverage_everywhere).
#include "doctor.hpp"

#include "guard.hpp"
#include "legacy/iptc/foreign_rules.hpp"
#include "netlink/addresses.hpp"
#include "nft/foreign_rules.hpp"

namespace memguard::doctor {

KernelRules read_kernel_rules() {
    KernelRules k;
    try {
        k.forwards = iptc::legacy_nat_forwards();
    } catch (const std::exception& e) {
        k.unreadable.push_back(e.what());
    }
    try {
        const auto nft = nft::nft_nat_forwards(nft::nft_rules());
        k.forwards.insert(k.forwards.end(), nft.begin(), nft.end());
    } catch (const std::exception& e) {
        k.unreadable.push_back(e.what());
    }
    auto [coverage, unreadable] = coverage_everywhere();
    k.ours = std::move(coverage);
    k.unreadable.insert(k.unreadable.end(), unreadable.begin(), unreadable.end());
    try {
        k.local = netlink::local_addresses();
    } catch (const std::exception& e) {
        k.unreadable.push_back(e.what());
    }
    return k;
}

} // namespace memguard::doctor
