// doctor's view of the legacy backend's rules beyond INPUT, from the same lock-free snapshot
// verify reads and by the same rule of what is ours (is_our_comment): the mangle FORWARD jumps
// that judge DNATed connections by their original port, and the strict reverse-path drops in
// mangle PREROUTING.
#include "legacy_backend.hpp"

#include <map>

namespace memguard {

namespace {

// A rule without -p matches both protocols.
std::vector<Protocol> protocols_of(const Rule& rule) {
    return rule.proto ? std::vector{*rule.proto} : std::vector{Protocol::tcp, Protocol::udp};
}

// Whether drops whose destination types are together `types` (addr_type bits; 0: a drop that
// names none, so sees every destination) see broadcasts and multicasts too. IPv6 has no
// broadcast.
bool covers_broadcast_and_multicast(Family family, std::uint16_t types) {
    const std::uint16_t needed =
        family == Family::ipv4 ? addr_type::broadcast | addr_type::multicast : addr_type::multicast;
    return types == 0 || (types & needed) == needed;
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
    std::map<Protocol, std::uint16_t> destinations; // of each protocol's drops, together
    for (const auto& k : view.mangle->prerouting) {
        // -A PREROUTING -p udp -m udp --dport 11211 -m addrtype --dst-type ... -m rpfilter
        //    --invert ... -j DROP
        if (k.ours() && k.rule && k.rule->rpfilter_failed) {
            for (const auto p : protocols_of(*k.rule)) {
                out.reverse_path.emplace_back(view.family, p);
                auto& types = destinations.try_emplace(p, k.rule->dst_types).first->second;
                types = types == 0 || k.rule->dst_types == 0 ? 0 : types | k.rule->dst_types;
            }
        }
    }
    for (const auto& [p, types] : destinations) {
        if (!covers_broadcast_and_multicast(view.family, types)) {
            out.reverse_path_local_only.emplace_back(view.family, p);
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
