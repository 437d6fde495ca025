// What `doctor` reads of the kernel beyond the backend's own view: every DNAT/REDIRECT, and the
// rules of memguardd's on the DNAT path and for the reverse-path check, in either backend.
#include "doctor.hpp"

#include "legacy/iptc/foreign_rules.hpp"
#include "netlink/addresses.hpp"
#include "nft/foreign_rules.hpp"

#include <netinet/in.h>

namespace memguard::doctor {

namespace {

// Our rules carry the comment "memguard", jump to our chain or are in it (legacy), or live in
// table inet memguard (nftables).
bool ours(const iptc::XtRule& rule) {
    return rule.comment.starts_with("memguard") || rule.target == "MEMGUARD" ||
           rule.chain == "MEMGUARD";
}
bool ours(const nft::NftRule& rule) {
    return rule.family == "inet" && rule.table == "memguard";
}

// IPPROTO_* of a rule → the protocols it matches; an unspecified one matches both.
std::vector<Protocol> protocols_of(std::optional<std::uint8_t> ipproto) {
    if (!ipproto || *ipproto == 0) {
        return {Protocol::tcp, Protocol::udp};
    }
    if (*ipproto == IPPROTO_TCP) {
        return {Protocol::tcp};
    }
    if (*ipproto == IPPROTO_UDP) {
        return {Protocol::udp};
    }
    return {};
}

std::optional<Protocol> one_protocol(std::uint8_t ipproto) {
    const auto all = protocols_of(ipproto);
    return all.size() == 1 ? std::optional(all.front()) : std::nullopt;
}

// mangle FORWARD: -p tcp -m conntrack --ctstate DNAT --ctorigdstport 11211 ... -j MEMGUARD;
// mangle or raw PREROUTING: -p udp -m rpfilter --invert ... -j DROP.
void read_legacy_ours(KernelRules& k) {
    for (const Family family : {Family::ipv4, Family::ipv6}) {
        for (const auto* table : {"mangle", "raw"}) {
            for (const auto& rule : iptc::legacy_rules(family, table)) {
                if (!ours(rule)) {
                    continue;
                }
                if (rule.chain == "FORWARD" && rule.ct_orig_dport) {
                    k.forward_path.push_back(
                        {family, one_protocol(rule.protocol), *rule.ct_orig_dport});
                }
                if (rule.rpfilter_invert) {
                    for (const auto p : protocols_of(rule.protocol)) {
                        k.reverse_path.emplace_back(family, p);
                    }
                }
            }
        }
    }
}

// chain prerouting: meta l4proto tcp th dport 11211 fib daddr type local jump guard4;
// chain guard4: meta l4proto udp fib saddr . iif oif missing drop.
void read_nft_ours(KernelRules& k, const std::vector<nft::NftRule>& rules) {
    for (const auto& rule : rules) {
        if (!ours(rule)) {
            continue;
        }
        if (rule.chain == "prerouting" && rule.dport) {
            k.prerouting.push_back({rule.nfproto,
                                    rule.l4proto ? one_protocol(*rule.l4proto) : std::nullopt,
                                    *rule.dport});
        }
        if (rule.reverse_path_missing) {
            std::vector<Family> families{Family::ipv4, Family::ipv6};
            if (rule.nfproto) {
                families = {*rule.nfproto};
            } else if (rule.chain == "guard4" || rule.chain == "guard6") {
                families = {rule.chain == "guard4" ? Family::ipv4 : Family::ipv6};
            }
            for (const auto f : families) {
                for (const auto p : protocols_of(rule.l4proto)) {
                    k.reverse_path.emplace_back(f, p);
                }
            }
        }
    }
}

} // namespace

KernelRules read_kernel_rules() {
    KernelRules k;
    try {
        k.forwards = iptc::legacy_nat_forwards();
        read_legacy_ours(k);
    } catch (const std::exception& e) {
        k.unreadable.push_back(e.what());
    }
    try {
        const auto rules = nft::nft_rules();
        const auto nft = nft::nft_nat_forwards(rules);
        k.forwards.insert(k.forwards.end(), nft.begin(), nft.end());
        read_nft_ours(k, rules);
    } catch (const std::exception& e) {
        k.unreadable.push_back(e.what());
    }
    try {
        k.local = netlink::local_addresses();
    } catch (const std::exception& e) {
        k.unreadable.push_back(e.what());
    }
    return k;
}

} // namespace memguard::doctor
