#include "allowset.hpp"

#include "netlink/ipset.hpp"
#include "rule.hpp"

#include <cerrno>
#include <chrono>
#include <thread>

namespace memguard {

namespace {

// The kernel refuses to swap or destroy a set (EBUSY) while anybody is listing it: `ipset
// list`, or a `memguardd diff` reading it at that moment. A listing takes milliseconds, so wait
// for it; give up after about a second.
template <class Operation> void when_not_listed(const Operation& operation) {
    constexpr int attempts = 100;
    for (int attempt = 1;; ++attempt) {
        try {
            operation();
            return;
        } catch (const netlink::NetlinkError& e) {
            if (e.error() != EBUSY || attempt == attempts) {
                throw;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// A set under the staging name that memguardd did not make (no owner_initval). Not a kernel
// without initval either: a set of ours is only ever made with the mark.
bool staging_is_foreign(netlink::Ipset& ipset, const std::string& staging) {
    try {
        const auto header = ipset.header(staging);
        return header && header->initval != netlink::owner_initval;
    } catch (const netlink::NetlinkError& e) {
        if (e.error() != EAFNOSUPPORT) {
            throw;
        }
        return true; // a list:set or the like: certainly not ours
    }
}

} // namespace

std::string staging_name(Family family, const std::string& name) {
    return name == set_name(family) ? name + "-new" : name + "~";
}

std::optional<SetState> read_set(Family family, const std::string& name) {
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
        state.marked = header->initval == netlink::owner_initval;
    } catch (const netlink::NetlinkError& e) {
        if (e.error() != EAFNOSUPPORT) { // a set of another family (list:set): not usable
            throw;
        }
        return state;
    }
    state.staging_foreign = staging_is_foreign(ipset, staging_name(family, name));
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

void load_set(Family family, const std::string& name, const std::vector<Network>& members,
              const std::optional<SetState>& current) {
    netlink::Ipset ipset;
    if (current && current->usable) {
        const std::string staging = staging_name(family, name);
        if (staging_is_foreign(ipset, staging)) {
            throw netlink::NetlinkError("ipset " + staging + " is not memguardd's", EEXIST);
        }
        if (ipset.header(staging)) { // ours, left behind by a load that was interrupted
            ipset.destroy(staging);
        }
        ipset.create(staging, family, members.size());
        ipset.add(staging, members);
        when_not_listed([&] { ipset.swap(name, staging); });
        when_not_listed([&] { ipset.destroy(staging); });
        return;
    }
    if (current) {
        when_not_listed([&] { ipset.destroy(name); });
    }
    ipset.create(name, family, members.size());
    ipset.add(name, members);
}

void drop_set(const std::string& name) {
    netlink::Ipset ipset;
    when_not_listed([&] { ipset.destroy(name); });
}

} // namespace memguard
