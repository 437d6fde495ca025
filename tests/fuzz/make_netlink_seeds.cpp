// Writes one well-formed message per netlink parser into DIR/<parser>/, as the kernel sends
// them: a conntrack dump entry, an NFLOG packet (IPv4 and IPv6), an inet_diag listener and tcp
// connection, an nftables table, an interface address. The fuzzers mutate from there.
// glibc's netinet/in.h must come before the kernel's headers, which otherwise define in_addr.
#include <netinet/in.h>
#include <sys/socket.h>

#include "../netlink/support.hpp"

#include <linux/if_addr.h>
#include <linux/inet_diag.h>
#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include <fstream>
#include <string>

namespace {

void write(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::uint8_t> conntrack(bool v6) {
    test::MessageBuilder b((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_MULTI);
    b.nfgen(v6 ? AF_INET6 : AF_INET);
    nlattr* tuple = mnl_attr_nest_start(b.nlh(), CTA_TUPLE_ORIG);
    nlattr* ip = mnl_attr_nest_start(b.nlh(), CTA_TUPLE_IP);
    const std::uint8_t addr[16] = {10, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    mnl_attr_put(b.nlh(), v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, v6 ? 16 : 4, addr);
    mnl_attr_put(b.nlh(), v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, v6 ? 16 : 4, addr);
    mnl_attr_nest_end(b.nlh(), ip);
    nlattr* proto = mnl_attr_nest_start(b.nlh(), CTA_TUPLE_PROTO);
    mnl_attr_put_u8(b.nlh(), CTA_PROTO_NUM, IPPROTO_TCP);
    mnl_attr_put_u16(b.nlh(), CTA_PROTO_SRC_PORT, test::be16(40000));
    mnl_attr_put_u16(b.nlh(), CTA_PROTO_DST_PORT, test::be16(11211));
    mnl_attr_nest_end(b.nlh(), proto);
    mnl_attr_nest_end(b.nlh(), tuple);
    mnl_attr_put_u16(b.nlh(), CTA_ZONE, test::be16(1));
    mnl_attr_put_u32(b.nlh(), CTA_ID, test::be32(77));
    return b.bytes();
}

std::vector<std::uint8_t> nflog(bool v6) {
    test::MessageBuilder b((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET);
    b.nfgen(v6 ? AF_INET6 : AF_INET, 11211);
    const nfulnl_msg_packet_hdr hdr{test::be16(v6 ? 0x86dd : 0x0800), 1, 0};
    mnl_attr_put(b.nlh(), NFULA_PACKET_HDR, sizeof hdr, &hdr);
    mnl_attr_put_u32(b.nlh(), NFULA_IFINDEX_INDEV, test::be32(2));
    mnl_attr_put_strz(b.nlh(), NFULA_PREFIX, "memguard");
    mnl_attr_put_u32(b.nlh(), NFULA_SEQ, test::be32(5));
    std::vector<std::uint8_t> payload(v6 ? 48 : 28, 0);
    if (v6) {
        payload[0] = 0x60;
        payload[6] = IPPROTO_UDP;
        payload[8] = 0xfd;
        payload[42] = 0x2b; // dport 11211
        payload[43] = 0xcb;
    } else {
        payload[0] = 0x45;
        payload[9] = IPPROTO_TCP;
        payload[12] = 10;
        payload[15] = 5;
        payload[22] = 0x2b;
        payload[23] = 0xcb;
    }
    mnl_attr_put(b.nlh(), NFULA_PAYLOAD, payload.size(), payload.data());
    return b.bytes();
}

// A tcp listener on 11211, or (connected) a client's established connection to it; the IPv6
// client as a dual-stack socket reports an IPv4 peer, ::ffff:10.0.0.5.
std::vector<std::uint8_t> sockdiag(bool v6, bool connected = false) {
    test::MessageBuilder b(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI);
    inet_diag_msg m{};
    m.idiag_family = v6 ? AF_INET6 : AF_INET;
    m.idiag_state = connected ? 1 : 10; // TCP_ESTABLISHED, TCP_LISTEN
    m.id.idiag_sport = test::be16(11211);
    m.idiag_inode = 4242;
    if (connected) {
        m.id.idiag_dport = test::be16(40000);
        const std::uint8_t peer[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 5};
        std::memcpy(m.id.idiag_dst, v6 ? peer : peer + 12, v6 ? 16 : 4);
    }
    b.extra(m);
    mnl_attr_put_u8(b.nlh(), INET_DIAG_SHUTDOWN, 0);
    if (v6 && !connected) {
        mnl_attr_put_u8(b.nlh(), INET_DIAG_SKV6ONLY, 0);
    }
    return b.bytes();
}

std::vector<std::uint8_t> nftables() {
    test::MessageBuilder b((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE, NLM_F_MULTI);
    b.nfgen(NFPROTO_IPV4);
    mnl_attr_put_strz(b.nlh(), NFTA_TABLE_NAME, "filter");
    mnl_attr_put_u32(b.nlh(), NFTA_TABLE_FLAGS, 0);
    mnl_attr_put_u32(b.nlh(), NFTA_TABLE_USE, test::be32(3));
    return b.bytes();
}

// The first message of an IPSET_CMD_LIST answer: the set's header, then a host and a prefix.
std::vector<std::uint8_t> ipset(bool v6) {
    test::MessageBuilder b((NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST, NLM_F_MULTI);
    b.nfgen(NFPROTO_IPV4);
    mnl_attr_put_u8(b.nlh(), IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
    mnl_attr_put_strz(b.nlh(), IPSET_ATTR_SETNAME, "memguard");
    mnl_attr_put_strz(b.nlh(), IPSET_ATTR_TYPENAME, "hash:net");
    mnl_attr_put_u8(b.nlh(), IPSET_ATTR_FAMILY, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
    mnl_attr_put_u8(b.nlh(), IPSET_ATTR_REVISION, 7);
    nlattr* head = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_DATA);
    mnl_attr_put_u32(b.nlh(), IPSET_ATTR_REFERENCES | NLA_F_NET_BYTEORDER, test::be32(1));
    mnl_attr_put_u32(b.nlh(), IPSET_ATTR_ELEMENTS | NLA_F_NET_BYTEORDER, test::be32(2));
    mnl_attr_nest_end(b.nlh(), head);
    nlattr* adt = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_ADT);
    const std::uint8_t addr[16] = {10, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    for (const unsigned cidr : {v6 ? 128u : 32u, v6 ? 48u : 8u}) {
        nlattr* data = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_DATA);
        nlattr* ip = mnl_attr_nest_start(b.nlh(), IPSET_ATTR_IP);
        mnl_attr_put(b.nlh(), v6 ? IPSET_ATTR_IPADDR_IPV6 : IPSET_ATTR_IPADDR_IPV4, v6 ? 16 : 4,
                     addr);
        mnl_attr_nest_end(b.nlh(), ip);
        mnl_attr_put_u8(b.nlh(), IPSET_ATTR_CIDR, static_cast<std::uint8_t>(cidr));
        mnl_attr_nest_end(b.nlh(), data);
    }
    mnl_attr_nest_end(b.nlh(), adt);
    return b.bytes();
}

// An RTM_NEWADDR of an address dump; IPv4 as on a point-to-point link (IFA_LOCAL is ours,
// IFA_ADDRESS the peer's), IPv6 as usual (IFA_ADDRESS alone).
std::vector<std::uint8_t> address(bool v6) {
    test::MessageBuilder b(RTM_NEWADDR, NLM_F_MULTI);
    ifaddrmsg ifa{};
    ifa.ifa_family = v6 ? AF_INET6 : AF_INET;
    ifa.ifa_prefixlen = v6 ? 64 : 32;
    ifa.ifa_index = 2;
    b.extra(ifa);
    const std::uint8_t local[16] = {10, 9, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::uint8_t peer[4] = {10, 9, 2, 2};
    if (!v6) {
        mnl_attr_put(b.nlh(), IFA_LOCAL, 4, local);
    }
    mnl_attr_put(b.nlh(), IFA_ADDRESS, v6 ? 16 : 4, v6 ? local : peer);
    mnl_attr_put_strz(b.nlh(), IFA_LABEL, "mg0");
    mnl_attr_put_u32(b.nlh(), IFA_FLAGS, IFA_F_PERMANENT);
    return b.bytes();
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        return 2;
    }
    const std::string dir = argv[1];
    for (const bool v6 : {false, true}) {
        const std::string suffix = v6 ? "-ipv6" : "-ipv4";
        write(dir + "/conntrack/seed" + suffix, conntrack(v6));
        write(dir + "/nflog/seed" + suffix, nflog(v6));
        write(dir + "/sockdiag/seed" + suffix, sockdiag(v6));
        write(dir + "/tcp_connections/seed" + suffix, sockdiag(v6, true));
        write(dir + "/ipset/seed" + suffix, ipset(v6));
        write(dir + "/addresses/seed" + suffix, address(v6));
    }
    write(dir + "/nftables/seed-filter", nftables());
    return 0;
}
