#include "nat_rules.hpp"

#include "detail.hpp"

#include <linux/netfilter/nf_nat.h>

#include <cstring>

namespace memguard::netlink {

namespace {

template <class T> std::optional<T> read_struct(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < sizeof(T)) {
        return std::nullopt;
    }
    T value;
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
}

std::uint16_t port_of(const nf_conntrack_man_proto& p) {
    return detail::load_be16(&p.all); // network order, as the kernel keeps it
}

Network host(Family family, const void* address) {
    Network n;
    n.family = family;
    n.prefix = n.max_prefix();
    std::memcpy(n.addr.data(), address, n.size());
    return n;
}

} // namespace

std::optional<Protocol> protocol_of(std::uint8_t ipproto) {
    if (ipproto == IPPROTO_TCP) {
        return Protocol::tcp;
    }
    if (ipproto == IPPROTO_UDP) {
        return Protocol::udp;
    }
    return std::nullopt;
}

std::string PortRange::to_string() const {
    return min == max ? std::to_string(min) : std::to_string(min) + "-" + std::to_string(max);
}

std::uint16_t NatForward::port_after(std::uint16_t port) const {
    return to.port ? to.port->min : port;
}

std::string NatForward::destination(std::uint16_t port) const {
    std::string host = "this host";
    if (to.address) {
        const std::string a = to.address->to_string();
        host = to.address->family == Family::ipv6 ? "[" + a + "]" : a;
    }
    const bool range = to.port && to.port->min != to.port->max;
    return host + ":" + (range ? to.port->to_string() : std::to_string(port_after(port)));
}

std::optional<NatTarget> decode_nat_target(std::string_view name, unsigned revision, Family family,
                                           std::span<const std::uint8_t> info) {
    if ((name != "DNAT" && name != "REDIRECT") || revision > 2) {
        return std::nullopt;
    }
    NatTarget to;
    to.kind = std::string(name);
    if (family == Family::ipv4 && revision == 0) {
        // -j DNAT --to-destination 172.17.0.2:11211 (revision 0), -j REDIRECT --to-ports
        const auto compat = read_struct<nf_nat_ipv4_multi_range_compat>(info);
        if (!compat || compat->rangesize < 1) {
            return std::nullopt;
        }
        const nf_nat_ipv4_range& r = compat->range[0];
        if (name == "DNAT" && (r.flags & NF_NAT_RANGE_MAP_IPS) != 0) {
            to.address = host(family, &r.min_ip);
        }
        if ((r.flags & NF_NAT_RANGE_PROTO_SPECIFIED) != 0) {
            to.port = PortRange{port_of(r.min), port_of(r.max)};
        }
        return to;
    }
    // nf_nat_range2 (DNAT revision 2) begins with nf_nat_range (revision 1, IPv6 REDIRECT 0)
    const auto r = read_struct<nf_nat_range>(info);
    if (!r) {
        return std::nullopt;
    }
    if (name == "DNAT" && (r->flags & NF_NAT_RANGE_MAP_IPS) != 0) {
        to.address = host(family, &r->min_addr);
    }
    if ((r->flags & NF_NAT_RANGE_PROTO_SPECIFIED) != 0) {
        to.port = PortRange{port_of(r->min_proto), port_of(r->max_proto)};
    }
    return to;
}

} // namespace memguard::netlink
