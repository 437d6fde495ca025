// What the kernel refuses and what its refusals mean: set names checked before anything is
// sent, and ipset's private error codes turned into an errno and a reason afterwards.
#include "ipset_wire.hpp"

#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/ipset/ip_set_hash.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace memguard::netlink::ipset_wire {

void check_name(const std::string& what, const std::string& name) {
    if (name.empty() || name.size() > IPSET_MAXNAMELEN - 1 ||
        name.find('\0') != std::string::npos) {
        // Empty matters most: IPSET_CMD_DESTROY without a name destroys every set.
        throw std::invalid_argument(what + ": a set name is 1 to " +
                                    std::to_string(IPSET_MAXNAMELEN - 1) +
                                    " characters without NUL (IPSET_MAXNAMELEN), not '" + name +
                                    "' (" + std::to_string(name.size()) + " bytes)");
    }
}

Explained explain(int code) {
    switch (code) {
    case IPSET_ERR_PROTOCOL:
        return {EPROTO, "the kernel refused the request as malformed (IPSET_ERR_PROTOCOL)"};
    case IPSET_ERR_FIND_TYPE:
        return {EOPNOTSUPP, "set type or revision unknown to the kernel (IPSET_ERR_FIND_TYPE)"};
    case IPSET_ERR_MAX_SETS:
        return {ENOSPC, "the kernel's table of sets is full (IPSET_ERR_MAX_SETS)"};
    case IPSET_ERR_BUSY:
        return {EBUSY, "set in use by an iptables rule or a list:set (IPSET_ERR_BUSY)"};
    case IPSET_ERR_EXIST_SETNAME2:
        // Swap's meaning; rename (which we never send) uses it for "the new name is taken".
        return {ENOENT, "the second set does not exist (IPSET_ERR_EXIST_SETNAME2)"};
    case IPSET_ERR_TYPE_MISMATCH:
        return {EINVAL, "the sets differ in type or family (IPSET_ERR_TYPE_MISMATCH)"};
    case IPSET_ERR_EXIST:
        return {EEXIST, "member already in the set (IPSET_ERR_EXIST)"};
    case IPSET_ERR_INVALID_CIDR:
        return {EINVAL, "invalid CIDR (IPSET_ERR_INVALID_CIDR)"};
    case IPSET_ERR_INVALID_NETMASK:
        return {EINVAL, "invalid netmask (IPSET_ERR_INVALID_NETMASK)"};
    case IPSET_ERR_INVALID_FAMILY:
        return {EAFNOSUPPORT, "invalid family (IPSET_ERR_INVALID_FAMILY)"};
    case IPSET_ERR_REFERENCED:
        return {EBUSY, "set is referenced (IPSET_ERR_REFERENCED)"};
    case IPSET_ERR_IPADDR_IPV4:
    case IPSET_ERR_IPADDR_IPV6:
        return {EINVAL, "invalid address (IPSET_ERR_IPADDR_IPV4/6)"};
    case IPSET_ERR_HASH_FULL:
        return {ENOSPC, "the set is full: maxelem reached (IPSET_ERR_HASH_FULL)"};
    case IPSET_ERR_HASH_ELEM:
        return {EINVAL, "null-valued member (IPSET_ERR_HASH_ELEM)"};
    default:
        return {EPROTO, "ipset error " + std::to_string(code)};
    }
}

} // namespace memguard::netlink::ipset_wire
