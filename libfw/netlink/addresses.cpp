#include "addresses.hpp"

#include "detail.hpp"
#include "socket.hpp"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace memguard::netlink {

namespace {

// How often the dump is tried when addresses change while it runs (see local_addresses).
constexpr int kDumpAttempts = 3;

// if_addr.h: the attributes after struct ifaddrmsg; an address is 4 or 16 bytes by family.
constexpr detail::AttrPolicy<IFA_MAX + 1> address_policy(std::size_t len) {
    detail::AttrPolicy<IFA_MAX + 1> p{};
    p[IFA_ADDRESS] = {MNL_TYPE_BINARY, len};
    p[IFA_LOCAL] = {MNL_TYPE_BINARY, len};
    return p;
}
constexpr detail::AttrPolicy<IFA_MAX + 1> kIpv4Policy = address_policy(4);
constexpr detail::AttrPolicy<IFA_MAX + 1> kIpv6Policy = address_policy(16);

// RTM_GETADDR, NLM_F_DUMP, for every family (AF_UNSPEC).
detail::Request dump_request() {
    detail::Request req;
    nlmsghdr* nlh = req.header(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_UNSPEC;
    return req;
}

std::vector<Network> dump_addresses() {
    Socket socket(Bus::route);
    auto request = dump_request();
    std::vector<Network> found;
    socket.transact(request.bytes(), "dump interface addresses",
                    [&](std::span<const std::uint8_t> message) {
                        if (auto address = parse_address_message(message)) {
                            found.push_back(*address);
                        }
                    });
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
}

} // namespace

std::optional<Network> parse_address_message(std::span<const std::uint8_t> nlmsg) {
    const detail::MessageView view(nlmsg);
    ifaddrmsg ifa{};
    const nlmsghdr* nlh = view.get(RTM_NEWADDR, ifa);
    const auto family = nlh != nullptr ? detail::family_from(ifa.ifa_family) : std::nullopt;
    if (!family) {
        return std::nullopt;
    }
    Network address;
    address.family = *family;
    detail::AttrTable attrs(address.family == Family::ipv4 ? kIpv4Policy : kIpv6Policy);
    if (!attrs.parse(nlh, sizeof ifa)) {
        return std::nullopt;
    }
    const nlattr* attr = attrs[IFA_LOCAL] != nullptr ? attrs[IFA_LOCAL] : attrs[IFA_ADDRESS];
    if (attr == nullptr) {
        return std::nullopt;
    }
    std::memcpy(address.addr.data(), mnl_attr_get_payload(attr), address.size());
    address.prefix = address.max_prefix();
    return address;
}

// rtnetlink marks a dump NLM_F_DUMP_INTR when the address list changed while it ran
// (nl_dump_check_consistent); libmnl turns that into EINTR. The answer may then be missing an
// address, so the dump is taken again, on a fresh socket: the abandoned one may still be busy.
std::vector<Network> local_addresses() {
    for (int attempt = 1;; ++attempt) {
        try {
            return dump_addresses();
        } catch (const NetlinkError& e) {
            if (e.error() != EINTR || attempt == kDumpAttempts) {
                throw;
            }
        }
    }
}

} // namespace memguard::netlink
