#include "allowset.hpp"

#include "netlink/ipset.hpp"
#include "rule.hpp"

#include <cerrno>

namespace memguard {

std::optional<SetState> read_set(Family family) {
    const std::string name = set_name(family);
    // The getsockopt lookup first: it loads no module (netlink would load ip_set to answer),
    // and a kernel without ip_set answers it with ENOPROTOOPT, which means no set.
    try {
        if (!netlink::ipset_index(name)) {
            return std::nullopt;
        }
    } catch (const netlink::NetlinkError& e) {
        if (e.error() == ENOPROTOOPT) {
            return std::nullopt;
        }
        throw;
    }
    netlink::Ipset ipset;
    SetState state;
    try {
        const auto header = ipset.header(name);
        if (!header) {
            return std::nullopt;
        }
        state.references = header->references;
        state.usable = header->type == "hash:net" && header->family == family;
    } catch (const netlink::NetlinkError& e) {
        if (e.error() != EAFNOSUPPORT) { // a set of another family (list:set): not usable
            throw;
        }
        return state;
    }
    if (state.usable) {
        try {
            state.members = ipset.members(name);
            state.members_readable = true;
        } catch (const netlink::NetlinkError& e) {
            if (e.error() != EOPNOTSUPP) { // ranges or nomatch entries: reload it
                throw;
            }
        }
    }
    return state;
}

void load_set(Family family, const std::vector<Network>& members,
              const std::optional<SetState>& current) {
    netlink::Ipset ipset;
    const std::string name = set_name(family);
    if (current && current->usable) {
        const std::string staging = name + "-new";
        if (ipset.header(staging)) { // left behind by a load that was interrupted
            ipset.destroy(staging);
        }
        ipset.create(staging, family, members.size());
        ipset.add(staging, members);
        ipset.swap(name, staging);
        ipset.destroy(staging);
        return;
    }
    if (current) {
        ipset.destroy(name);
    }
    ipset.create(name, family, members.size());
    ipset.add(name, members);
}

void drop_set(Family family) {
    netlink::Ipset().destroy(set_name(family));
}

} // namespace memguard
