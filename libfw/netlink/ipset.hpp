// ipset through its own netlink protocol (nfnetlink subsystem NFNL_SUBSYS_IPSET, protocol 7):
// the hash:net sets an iptables rule `-m set --match-set NAME src` matches against, built and
// replaced whole (create a new set, fill it, swap it in, destroy the old one), and read back.
//
// Split in two like conntrack.hpp: a pure parser for one IPSET_CMD_LIST reply message
// (ipset_parse.cpp), which unit tests and the fuzzer call with bytes, and `Ipset`, which talks
// to the kernel (ipset.cpp). Plus the set's kernel index by name and back (ipset_sockopt.cpp: the
// legacy getsockopt interface iptables itself uses), because a rule stores the index, not the
// name.
#pragma once

#include "net.hpp"
#include "socket.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memguard::netlink {

// The initval memguardd creates its sets with, "memg" in ASCII: what tells a set of ours from
// somebody else's set of the same name (a random seed matches it once in 2^32 creations).
inline constexpr std::uint32_t owner_initval = 0x6d656d67;

struct IpsetHeader {
    std::string type; // "hash:net"
    // The set's family: IPSET_ATTR_FAMILY NFPROTO_IPV4 (`ipset list`: inet) or NFPROTO_IPV6
    // (inet6). A set of any other family (list:set is NFPROTO_UNSPEC) is not one of ours: the
    // parser throws NetlinkError (EAFNOSUPPORT) rather than guess.
    Family family = Family::ipv4;
    std::uint32_t references = 0; // iptables rules and list:set sets that use it
    std::uint32_t elements = 0;   // its members (0 from a kernel without IPSET_ATTR_ELEMENTS)
    // The hash seed (IPSET_ATTR_INITVAL, hash types of revision 7 and later; `ipset list` shows
    // it as "initval 0x..."). The kernel picks a random one unless `create` is given one, so
    // memguardd marks its own sets with owner_initval.
    std::optional<std::uint32_t> initval;

    friend bool operator==(const IpsetHeader&, const IpsetHeader&) = default;
};

// All requests go through one NETLINK_NETFILTER socket, each carrying IPSET_ATTR_PROTOCOL 7 as
// the kernel requires. Names must be 1 to 31 bytes without NUL (IPSET_MAXNAMELEN - 1):
// std::invalid_argument otherwise, before anything is sent. Errors are NetlinkError with what was
// attempted on which set; ipset's private error codes (IPSET_ERR_*, 4096 and up) are mapped to
// the nearest errno with the reason in the message, e.g.
//   "ipset destroy memguard4: set in use by an iptables rule or a list:set (IPSET_ERR_BUSY):
//    Device or resource busy".
// After a failed request the socket is closed and the next request opens a new one, so a dump
// cut short cannot keep its set referenced (which would make a destroy or swap fail with EBUSY).
// Not thread-safe: one object per thread.
class Ipset {
public:
    Ipset();

    // The set's header (IPSET_CMD_LIST with IPSET_FLAG_LIST_HEADER, as `ipset list -t`), or
    // nullopt when no set of that name exists (the kernel answers ENOENT). NetlinkError
    // EAFNOSUPPORT for a set neither inet nor inet6 (list:set, ...).
    std::optional<IpsetHeader> header(const std::string& name);

    // Every member (NLM_F_DUMP of IPSET_CMD_LIST, spanning as many messages as it takes), as
    // canonical networks, sorted. A set that does not exist: NetlinkError with ENOENT.
    std::vector<Network> members(const std::string& name);

    // Creates an empty hash:net set of `family`, sized for `count` members: maxelem
    // max(65536, 2 * count), hashsize the power of two >= max(1024, count) (at most 2^24; the
    // kernel grows the table beyond that itself). Uses the newest hash:net revision both the
    // kernel and ipset 7.x know, marked with owner_initval where that revision has an initval
    // (hash:net 7, Linux 5.11 and later). NetlinkError EEXIST when a set of that name exists,
    // whatever its type:
    //   "ipset create memguard4 (hash:net inet): File exists"
    void create(const std::string& name, Family family, std::size_t count);

    // Adds `networks` (canonicalised; all of the set's family), many per message as `ipset
    // restore` does (IPSET_ATTR_ADT holding one IPSET_ATTR_DATA per member), each message ACKed.
    // A full-length prefix goes without IPSET_ATTR_CIDR, as `ipset add NAME 10.0.0.1` sends it,
    // so `ipset list` shows the bare address. A member already present is not an error (like
    // `ipset add -exist`). std::invalid_argument for a network of the other family or a /0
    // (hash:net cannot hold one: IPSET_ERR_INVALID_CIDR; add 0.0.0.0/1 and 128.0.0.0/1).
    // On a kernel error the members of earlier messages stay added.
    void add(const std::string& name, std::span<const Network> networks);

    // Exchanges the two sets' contents atomically (IPSET_CMD_SWAP): the names, and the rules
    // that refer to them, stay where they are. Both must exist and have the same type and family.
    // Named after IPSET_CMD_SWAP, not the no-throw swap idiom: it throws like the rest.
    // NOLINTNEXTLINE(bugprone-exception-escape)
    void swap(const std::string& a, const std::string& b);

    // Destroys the set. NetlinkError EBUSY while a rule (or a list:set) still refers to it,
    // ENOENT when there is none.
    void destroy(const std::string& name);

private:
    // One request through socket_ (opened first if a failure closed it). On failure: closes
    // the socket and throws with ENOENT and ipset's own codes explained for the set `set`.
    void transact(std::span<std::uint8_t> request, const std::string& what, const std::string& set,
                  const MessageHandler& on_reply = {});
    std::uint8_t hash_net_revision(const std::string& context, Family family);

    std::optional<Socket> socket_;
};

// The kernel's index of the set `name` (what an xt_set match stores), or nullopt when there is
// no such set; and the name of the set at `index`, or nullopt when that slot is empty. Through
// getsockopt(SOL_IP, SO_IP_SET) on a raw IPv4 socket (close-on-exec, closed before returning),
// IP_SET_OP_VERSION then IP_SET_OP_GET_BYNAME / IP_SET_OP_GET_BYINDEX, as iptables' libxt_set
// does. Needs CAP_NET_ADMIN and CAP_NET_RAW. Throws NetlinkError (ENOPROTOOPT: ip_set not
// loaded) and std::invalid_argument for a name ipset_index could not hold.
std::optional<std::uint16_t> ipset_index(const std::string& name);
std::optional<std::string> ipset_name(std::uint16_t index);

// One IPSET_CMD_LIST reply message as bytes: appends its members to `members` (canonical, in
// message order) and, when it carries the set's header (the first message of each set does),
// sets `header`. Every attribute is validated for type and length; every nesting level must be
// filled exactly by its attributes (libmnl would otherwise stop quietly at a cut one, and a /8
// would read as a /32). Throws NetlinkError: EBADMSG for malformed bytes, another message
// type, a member without an address or of the other family, a CIDR beyond the address;
// EOPNOTSUPP for members no Network can hold (an IPSET_ATTR_IP_TO range, a nomatch entry);
// EAFNOSUPPORT for a set family other than inet/inet6. Never reads outside `message`; the bytes
// need no particular alignment.
void parse_ipset_list_message(std::span<const std::uint8_t> message,
                              std::optional<IpsetHeader>& header, std::vector<Network>& members);

} // namespace memguard::netlink
