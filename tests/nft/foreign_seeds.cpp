#include "foreign_seeds.hpp"

#include <arpa/inet.h> // before the linux/ headers
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <stdexcept>

using memguard::Family;
using memguard::nft::make;
using memguard::nft::RulePtr;

namespace {

// libnftnl's match and target take the info they are given and free() it with the expression.
void* owned_copy(const void* data, std::size_t len) {
    // NOLINTNEXTLINE(cppcoreguidelines-no-malloc): libnftnl free()s it with the expression
    void* copy = std::malloc(len);
    if (copy == nullptr) {
        throw std::bad_alloc();
    }
    std::memcpy(copy, data, len);
    return copy;
}

class Builder {
public:
    Builder(const char* table, const char* chain) : rule_(make<RulePtr>(nftnl_rule_alloc)) {
        nftnl_rule_set_str(rule_.get(), NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(rule_.get(), NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u64(rule_.get(), NFTNL_RULE_HANDLE, ++handle_);
    }
    Builder& add(const char* name, const std::function<void(nftnl_expr*)>& fill) {
        nftnl_expr* e = nftnl_expr_alloc(name);
        if (e == nullptr) {
            throw std::runtime_error(std::string("libnftnl has no expression ") + name);
        }
        fill(e);
        nftnl_rule_add_expr(rule_.get(), e);
        return *this;
    }
    Builder& load(const char* name, std::uint16_t key_attr, std::uint32_t key,
                  std::uint16_t dreg_attr) {
        return add(name, [&](nftnl_expr* e) {
            nftnl_expr_set_u32(e, key_attr, key);
            nftnl_expr_set_u32(e, dreg_attr, NFT_REG_1);
        });
    }
    Builder& payload(std::uint32_t base, std::uint32_t offset, std::uint32_t len) {
        return add("payload", [&](nftnl_expr* e) {
            nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
            nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
            nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
            nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
        });
    }
    Builder& cmp(std::uint32_t op, const void* data, std::uint32_t len) {
        return add("cmp", [&](nftnl_expr* e) {
            nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
            nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
            nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        });
    }
    Builder& port(std::uint16_t p) {
        const std::uint16_t be = htons(p);
        return payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2).cmp(NFT_CMP_EQ, &be, 2);
    }
    Builder& l4proto(std::uint8_t proto) {
        return load("meta", NFTNL_EXPR_META_KEY, NFT_META_L4PROTO, NFTNL_EXPR_META_DREG)
            .cmp(NFT_CMP_EQ, &proto, 1);
    }
    // `ip protocol` (offset 9) or `ip6 nexthdr` (offset 6): iptables-nft 1.8.10 and later's -p
    Builder& network_protocol(std::uint32_t offset, std::uint8_t proto) {
        return payload(NFT_PAYLOAD_NETWORK_HEADER, offset, 1).cmp(NFT_CMP_EQ, &proto, 1);
    }
    Builder& value(std::uint32_t reg, const void* data, std::uint32_t len) {
        return add("immediate", [&](nftnl_expr* e) {
            nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
            nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
        });
    }
    Builder& verdict(int code, const char* chain = nullptr) {
        return add("immediate", [&](nftnl_expr* e) {
            nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
            nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(code));
            if (chain != nullptr) {
                nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
            }
        });
    }
    // dnat to ADDRESS:PORT, both loaded into registers first
    Builder& dnat(std::uint32_t nfproto, const void* address, std::uint32_t len,
                  std::uint16_t port) {
        const std::uint16_t be = htons(port);
        return value(NFT_REG_1, address, len)
            .value(NFT_REG_2, &be, 2)
            .add("nat", [&](nftnl_expr* e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, nfproto);
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
                nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
            });
    }
    // reg 1 = reg 1 & MASK (4 bytes) ^ 0
    Builder& mask(std::uint32_t bits) {
        const std::uint32_t zero = 0;
        return add("bitwise", [&](nftnl_expr* e) {
            nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
            nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
            nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
            nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &bits, 4);
            nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
        });
    }
    Builder& counter() {
        return add("counter", [](nftnl_expr* e) {
            nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, 42);
            nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, 4242);
        });
    }
    RulePtr done() { return std::move(rule_); }

private:
    RulePtr rule_;
    static inline std::uint64_t handle_ = 0;
};

// ip saddr 172.17.0.0/16 oifname != "docker0" counter masquerade
RulePtr docker_masquerade() {
    const std::uint32_t mask = htonl(0xFFFF0000);
    const std::uint32_t net = htonl(0xAC110000);
    const char iface[16] = "docker0";
    return Builder("nat", "POSTROUTING")
        .payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4)
        .mask(mask)
        .cmp(NFT_CMP_EQ, &net, 4)
        .load("meta", NFTNL_EXPR_META_KEY, NFT_META_OIFNAME, NFTNL_EXPR_META_DREG)
        .cmp(NFT_CMP_NEQ, iface, sizeof iface)
        .counter()
        .add("masq", [](nftnl_expr*) {})
        .done();
}

// iptables-nft: -p tcp --dport 11211 -m comment --comment "x" -j DNAT --to 172.17.0.3 (rev 2)
RulePtr iptables_nft_dnat() {
    char comment[256] = "compat";
    nf_nat_range2 range{};
    range.flags = NF_NAT_RANGE_MAP_IPS;
    range.min_addr.ip = range.max_addr.ip = htonl(0xAC110003);
    return Builder("nat", "PREROUTING")
        .l4proto(IPPROTO_TCP)
        .port(11211)
        .add("match",
             [&](nftnl_expr* e) {
                 nftnl_expr_set_str(e, NFTNL_EXPR_MT_NAME, "comment");
                 nftnl_expr_set_u32(e, NFTNL_EXPR_MT_REV, 0);
                 nftnl_expr_set(e, NFTNL_EXPR_MT_INFO, owned_copy(comment, sizeof comment),
                                sizeof comment);
             })
        .counter()
        .add("target",
             [&](nftnl_expr* e) {
                 nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "DNAT");
                 nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 2);
                 nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, owned_copy(&range, sizeof range),
                                sizeof range);
             })
        .done();
}

// ct state established,related accept
RulePtr firewalld_state() {
    const std::uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
    const std::uint32_t zero = 0;
    return Builder("firewalld", "filter_INPUT")
        .load("ct", NFTNL_EXPR_CT_KEY, NFT_CT_STATE, NFTNL_EXPR_CT_DREG)
        .mask(mask)
        .cmp(NFT_CMP_NEQ, &zero, 4)
        .verdict(NF_ACCEPT)
        .done();
}

// ip saddr @allowlist jump filter_IN_public; meta l4proto udp fib saddr . iif oif missing drop
RulePtr firewalld_set_jump() {
    return Builder("firewalld", "filter_INPUT_ZONES")
        .payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4)
        .add("lookup",
             [](nftnl_expr* e) {
                 nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, "allowlist");
                 nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
             })
        .verdict(NFT_JUMP, "filter_IN_public")
        .done();
}

RulePtr firewalld_rpfilter() {
    const std::uint32_t missing = 0;
    return Builder("firewalld", "filter_PREROUTING")
        .l4proto(IPPROTO_UDP)
        .add("fib",
             [](nftnl_expr* e) {
                 nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
                 nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_OIF);
                 nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_SADDR | NFTA_FIB_F_IIF);
             })
        .cmp(NFT_CMP_EQ, &missing, 4)
        .counter()
        .verdict(NF_DROP)
        .done();
}

// tcp dport 11000-12000 limit rate 10/second log prefix "x" group 2 quota 1 mbytes reject
RulePtr firewalld_misc() {
    const std::uint16_t from = htons(11000);
    const std::uint16_t to = htons(12000);
    return Builder("firewalld", "filter_IN_public")
        .l4proto(IPPROTO_TCP)
        .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)
        .add("range",
             [&](nftnl_expr* e) {
                 nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
                 nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
                 nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &from, 2);
                 nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &to, 2);
             })
        .add("limit",
             [](nftnl_expr* e) {
                 nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, 10);
                 nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
                 nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, 5);
             })
        .add("log",
             [](nftnl_expr* e) {
                 nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, "filter_IN_public_REJECT: ");
                 nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, 2);
             })
        .add("quota", [](nftnl_expr* e) { nftnl_expr_set_u64(e, NFTNL_EXPR_QUOTA_BYTES, 1 << 20); })
        .add("reject",
             [](nftnl_expr* e) {
                 nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
                 nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
             })
        .done();
}

// tcp dport 11211 redirect to :11300; update @meter { ip saddr counter }
RulePtr redirect_and_meter() {
    const std::uint16_t to_port = htons(11300);
    return Builder("nat", "OUTPUT")
        .l4proto(IPPROTO_TCP)
        .port(11211)
        .payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4)
        .add("dynset",
             [](nftnl_expr* e) {
                 nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, "meter");
                 nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
                 nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
                 nftnl_expr_set(e, NFTNL_EXPR_DYNSET_EXPR, nftnl_expr_alloc("counter"), 0);
             })
        .value(NFT_REG_2, &to_port, 2)
        .add(
            "redir",
            [](nftnl_expr* e) { nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_2); })
        .done();
}

// ip6 nat: meta l4proto udp udp dport 11211 dnat to [fd00::2]:11211
RulePtr docker_dnat6() {
    in6_addr address{};
    inet_pton(AF_INET6, "fd00::2", &address);
    return Builder("nat", "DOCKER")
        .l4proto(IPPROTO_UDP)
        .port(11211)
        .dnat(NFPROTO_IPV6, &address, 16, 11211)
        .done();
}

} // namespace

RulePtr docker_dnat() {
    const char iface[16] = "docker0";
    const std::uint32_t address = htonl(0xAC110002);
    return Builder("nat", "DOCKER")
        .load("meta", NFTNL_EXPR_META_KEY, NFT_META_IIFNAME, NFTNL_EXPR_META_DREG)
        .cmp(NFT_CMP_NEQ, iface, sizeof iface)
        .l4proto(IPPROTO_TCP)
        .port(11211)
        .counter()
        .dnat(NFPROTO_IPV4, &address, 4, 11211)
        .done();
}

RulePtr iptables_nft_network_protocol_dnat(Family family, std::uint32_t protocol_offset) {
    const bool v4 = family == Family::ipv4;
    std::array<std::uint8_t, 16> address{};
    inet_pton(v4 ? AF_INET : AF_INET6, v4 ? "172.17.0.2" : "fd00::2", address.data());
    return Builder("nat", "DOCKER")
        .network_protocol(protocol_offset, IPPROTO_TCP)
        .port(11211)
        .counter()
        .dnat(v4 ? NFPROTO_IPV4 : NFPROTO_IPV6, address.data(), v4 ? 4 : 16, 11211)
        .done();
}

std::vector<std::pair<std::uint16_t, RulePtr>> foreign_rules() {
    std::vector<std::pair<std::uint16_t, RulePtr>> out;
    out.emplace_back(NFPROTO_IPV4, docker_dnat());
    out.emplace_back(NFPROTO_IPV4, docker_masquerade());
    out.emplace_back(NFPROTO_IPV4, iptables_nft_dnat());
    out.emplace_back(NFPROTO_INET, firewalld_state());
    out.emplace_back(NFPROTO_INET, firewalld_set_jump());
    out.emplace_back(NFPROTO_INET, firewalld_rpfilter());
    out.emplace_back(NFPROTO_INET, firewalld_misc());
    out.emplace_back(NFPROTO_IPV4, redirect_and_meter());
    out.emplace_back(NFPROTO_IPV6, docker_dnat6());
    out.emplace_back(NFPROTO_IPV4, iptables_nft_network_protocol_dnat(Family::ipv4, 9));
    out.emplace_back(NFPROTO_IPV6, iptables_nft_network_protocol_dnat(Family::ipv6, 6));
    return out;
}
