// doctor's view of the legacy backend's rules beyond INPUT, from the same lock-free snapshot
// verify reads and by the same rule of what is ours (is_our_comment): the mangle FORWARD jumps
// that judge DNATed connections by their original port, and the strict reverse-path drops in
// mangle PREROUTING.
#include "legacy_backend.hpp"

namespace memguard {

namespace {

// A rule without -p matches both protocols.
std::vector<Protocol> protocols_of(const Rule& rule) {
    return rule.proto ? std::vector{*rule.proto} : std::vector{Protocol::tcp, Protocol::udp};
}

void add_mangle(const KernelView& view, Coverage& out) {
    for (const auto& k : view.mangle->forward) {
        // -A FORWARD -p tcp -m conntrack --ctstate DNAT --ctorigdstport 11211 --ctdir ORIGINAL
        //    -m comment --comment memguard -j MEMGUARD
        if (k.ours() && k.rule && k.rule->dnat_port && k.rule->verdict == Verdict::jump_memguard) {
            const auto port = *k.rule->dnat_port;
            out.dnat_forward.push_back({view.family, k.rule->proto, {port, port}});
        }
    }
    for (const auto& k : view.mangle->prerouting) {
        // -A PREROUTING -p udp -m udp --dport 11211 ... -m rpfilter --invert ... -j DROP
        if (k.ours() && k.rule && k.rule->rpfilter_failed) {
            for (const auto p : protocols_of(*k.rule)) {
                out.reverse_path.emplace_back(view.family, p);
            }
        }
    }
}

} // namespace

Coverage LegacyBackend::coverage() {
    Coverage out;
    for (const auto family : both_families) {
        const KernelView view = tables_->snapshot(family);
        if (view.mangle) {
            add_mangle(view, out);
        }
    }
    return out;
}

} // namespace memguard
