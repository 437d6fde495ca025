// A set's kernel index by name and back, through getsockopt(SOL_IP, SO_IP_SET) as iptables'
// libxt_set asks it: an xt_set match stores the index, not the name.
#include "ipset.hpp"

// glibc's netinet/in.h must come before the kernel's headers (linux/netfilter.h pulls in
// linux/in.h), which otherwise define in_addr a second time.
#include <netinet/in.h>
#include <sys/socket.h>

#include "fd.hpp"
#include "ipset_wire.hpp"

#include <linux/netfilter/ipset/ip_set.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace memguard::netlink {

namespace {

using ipset_wire::check_name;

// One getsockopt on the ipset socket; the answer must be exactly the request's size (libxt_set
// checks the same).
template <typename Request>
void ipset_sockopt(const Fd& fd, Request& request, const std::string& what) {
    socklen_t len = sizeof request;
    if (getsockopt(fd.get(), SOL_IP, SO_IP_SET, &request, &len) != 0) {
        throw NetlinkError(what, errno);
    }
    if (len != sizeof request) {
        throw NetlinkError(what + ": answer of " + std::to_string(len) + " bytes, not " +
                               std::to_string(sizeof request),
                           EPROTO);
    }
}

// A raw IPv4 socket (as libxt_set's get_version opens it) and the protocol version the kernel
// speaks, which every later request must carry (ip_set_sockfn_get refuses < 6 with EPROTO).
std::pair<Fd, unsigned> open_ipset_sockopt(const std::string& what) {
    Fd fd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (!fd) {
        throw NetlinkError(what + ": open raw socket", errno);
    }
    ip_set_req_version version{};
    version.op = IP_SET_OP_VERSION;
    ipset_sockopt(fd, version, what + ": IP_SET_OP_VERSION");
    return {std::move(fd), version.version};
}

} // namespace

std::optional<std::uint16_t> ipset_index(const std::string& name) {
    const std::string what = "ipset index of " + name;
    // A longer name would be cut by the kernel to its first 31 bytes: another set's name.
    check_name(what, name);
    auto [fd, version] = open_ipset_sockopt(what);
    ip_set_req_get_set request{};
    request.op = IP_SET_OP_GET_BYNAME;
    request.version = version;
    std::memcpy(request.set.name, name.data(), name.size());
    ipset_sockopt(fd, request, what + ": IP_SET_OP_GET_BYNAME");
    if (request.set.index == IPSET_INVALID_ID) {
        return std::nullopt;
    }
    return request.set.index;
}

std::optional<std::string> ipset_name(std::uint16_t index) {
    const std::string what = "ipset name of index " + std::to_string(index);
    if (index == IPSET_INVALID_ID) {
        return std::nullopt;
    }
    auto [fd, version] = open_ipset_sockopt(what);
    ip_set_req_get_set request{};
    request.op = IP_SET_OP_GET_BYINDEX;
    request.version = version;
    request.set.index = index;
    try {
        ipset_sockopt(fd, request, what + ": IP_SET_OP_GET_BYINDEX");
    } catch (const NetlinkError& e) {
        // The kernel's answer for an index beyond its table of sets (ip_set_sockfn_get); the
        // request's size, the only other cause, is fixed by the header.
        if (e.error() == EINVAL) {
            return std::nullopt;
        }
        throw;
    }
    const std::size_t len = strnlen(request.set.name, sizeof request.set.name);
    if (len == 0) {
        return std::nullopt; // an empty slot
    }
    return std::string(request.set.name, len);
}

} // namespace memguard::netlink
