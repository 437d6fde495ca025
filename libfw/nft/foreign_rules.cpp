#include "foreign_rules.hpp"

#include "netlink/detail.hpp"
#include "netlink/nftables.hpp"
#include "netlink/socket.hpp"
#include "rule_message.hpp"

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <map>

namespace memguard::nft {

namespace {

namespace detail = netlink::detail;

constexpr std::uint16_t kGetRule = detail::nfnl_type(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETRULE);

std::optional<Family> nfproto_family(std::uint32_t nfproto) {
    if (nfproto == NFPROTO_IPV4) {
        return Family::ipv4;
    }
    if (nfproto == NFPROTO_IPV6) {
        return Family::ipv6;
    }
    return std::nullopt;
}

// What an expression loaded into a register, as far as the expressions after it care.
enum class Loaded : std::uint8_t { other, nfproto, l4proto, dport, reverse_path, value };
struct Register {
    Loaded what = Loaded::other;
    std::vector<std::uint8_t> value; // Loaded::value: the immediate's bytes
};

Bytes data_of(const nftnl_expr* e, std::uint16_t attr) {
    std::uint32_t len = 0;
    const void* p = nftnl_expr_is_set(e, attr) ? nftnl_expr_get(e, attr, &len) : nullptr;
    return p == nullptr ? Bytes{} : Bytes(static_cast<const std::uint8_t*>(p), len);
}

std::uint16_t be16(Bytes b) {
    return b.size() < 2 ? 0 : detail::load_be16(b.data());
}

// One rule's expressions, in order, with what each register holds.
class Walk {
public:
    explicit Walk(NftRule& rule, std::optional<Family> table_family)
        : rule_(rule), table_family_(table_family) {}

    void expression(const nftnl_expr* e);

private:
    void load(const nftnl_expr* e, std::uint16_t dreg_attr, Loaded what) {
        if (nftnl_expr_is_set(e, dreg_attr)) {
            regs_[nftnl_expr_get_u32(e, dreg_attr)] = Register{what, {}};
        }
    }
    [[nodiscard]] Register reg(const nftnl_expr* e, std::uint16_t attr) const {
        if (!nftnl_expr_is_set(e, attr)) {
            return {};
        }
        const auto it = regs_.find(nftnl_expr_get_u32(e, attr));
        return it == regs_.end() ? Register{} : it->second;
    }
    [[nodiscard]] std::optional<Family> family() const {
        return rule_.nfproto ? rule_.nfproto : table_family_;
    }
    void compare(const nftnl_expr* e);
    [[nodiscard]] Loaded payload(const nftnl_expr* e) const;
    void nat(const nftnl_expr* e, std::optional<std::uint16_t> addr_min, std::uint16_t proto_min,
             std::uint16_t proto_max, std::optional<Family> family, std::string kind);
    void target(const nftnl_expr* e);

    NftRule& rule_;
    std::optional<Family> table_family_;
    std::map<std::uint32_t, Register> regs_;
};

// cmp eq REG DATA: the match on what REG holds.
void Walk::compare(const nftnl_expr* e) {
    if (nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ) {
        return;
    }
    const Bytes data = data_of(e, NFTNL_EXPR_CMP_DATA);
    if (data.empty()) {
        return;
    }
    switch (reg(e, NFTNL_EXPR_CMP_SREG).what) {
    case Loaded::nfproto:
        rule_.nfproto = nfproto_family(data[0]);
        break;
    case Loaded::l4proto:
        rule_.l4proto = data[0];
        break;
    case Loaded::dport:
        rule_.dport = PortRange{be16(data), be16(data)};
        break;
    case Loaded::reverse_path: // `oif missing`: the lookup found no interface, 0
        rule_.reverse_path_missing = std::ranges::all_of(data, [](auto b) { return b == 0; });
        break;
    default:
        break;
    }
}

// What a payload load reads: tcp dport, udp dport, th dport (2 bytes at offset 2 of the transport
// header); `ip protocol` or `ip6 nexthdr` (1 byte at offset 9 or 6 of the network header), as
// iptables-nft 1.8.10 and later write -p instead of `meta l4proto`.
Loaded Walk::payload(const nftnl_expr* e) const {
    const auto base = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE);
    const auto offset = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
    const auto len = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN);
    if (base == NFT_PAYLOAD_TRANSPORT_HEADER && offset == 2 && len == 2) {
        return Loaded::dport;
    }
    const std::uint32_t protocol_offset = family() == Family::ipv6 ? 6 : 9;
    if (base == NFT_PAYLOAD_NETWORK_HEADER && family() && offset == protocol_offset && len == 1) {
        return Loaded::l4proto;
    }
    return Loaded::other;
}

// dnat ip to REG_ADDR:REG_PROTO, redirect to :REG_PROTO: the registers an immediate loaded.
void Walk::nat(const nftnl_expr* e, std::optional<std::uint16_t> addr_min, std::uint16_t proto_min,
               std::uint16_t proto_max, std::optional<Family> family, std::string kind) {
    NatTarget to;
    to.kind = std::move(kind);
    if (const Register a = addr_min ? reg(e, *addr_min) : Register{};
        a.what == Loaded::value && family) {
        Network n;
        n.family = *family;
        n.prefix = n.max_prefix();
        if (a.value.size() >= n.size()) {
            std::copy_n(a.value.begin(), n.size(), n.addr.begin());
            to.address = n;
        }
    }
    if (const Register p = reg(e, proto_min); p.what == Loaded::value) {
        const Register p_max = reg(e, proto_max);
        const auto max = p_max.what == Loaded::value ? be16(p_max.value) : be16(p.value);
        to.port = PortRange{be16(p.value), max};
    }
    rule_.nat = to;
}

// An x_tables target inside nftables (iptables-nft's `target name DNAT rev 2`).
void Walk::target(const nftnl_expr* e) {
    const auto* name = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
    if (name != nullptr && std::string_view(name) == "REJECT") {
        rule_.drops = true;
    }
    if (name == nullptr || !family()) {
        return;
    }
    if (auto to = netlink::decode_nat_target(name, nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV),
                                             *family(), data_of(e, NFTNL_EXPR_TG_INFO))) {
        rule_.nat = std::move(*to);
    }
}

void Walk::expression(const nftnl_expr* e) {
    const std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    if (name == "meta") {
        const auto key = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
        load(e, NFTNL_EXPR_META_DREG,
             key == NFT_META_L4PROTO   ? Loaded::l4proto
             : key == NFT_META_NFPROTO ? Loaded::nfproto
                                       : Loaded::other);
    } else if (name == "payload") {
        load(e, NFTNL_EXPR_PAYLOAD_DREG, payload(e));
    } else if (name == "cmp") {
        compare(e);
    } else if (name == "range") {
        if (nftnl_expr_get_u32(e, NFTNL_EXPR_RANGE_OP) == NFT_RANGE_EQ &&
            reg(e, NFTNL_EXPR_RANGE_SREG).what == Loaded::dport) {
            rule_.dport = PortRange{be16(data_of(e, NFTNL_EXPR_RANGE_FROM_DATA)),
                                    be16(data_of(e, NFTNL_EXPR_RANGE_TO_DATA))};
        }
    } else if (name == "reject") {
        rule_.drops = true;
    } else if (name == "immediate") {
        if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
            nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == NF_DROP) {
            rule_.drops = true;
        }
        const Bytes data = data_of(e, NFTNL_EXPR_IMM_DATA);
        if (!data.empty() && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_DREG)) {
            regs_[nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG)] =
                Register{Loaded::value, {data.begin(), data.end()}};
        }
    } else if (name == "fib") {
        // fib saddr . iif oif: the interface a reply to the source would leave by
        const auto flags = nftnl_expr_get_u32(e, NFTNL_EXPR_FIB_FLAGS);
        const bool rpf = nftnl_expr_get_u32(e, NFTNL_EXPR_FIB_RESULT) == NFT_FIB_RESULT_OIF &&
                         (flags & NFTA_FIB_F_SADDR) != 0 && (flags & NFTA_FIB_F_IIF) != 0;
        load(e, NFTNL_EXPR_FIB_DREG, rpf ? Loaded::reverse_path : Loaded::other);
    } else if (name == "nat") {
        if (nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT) {
            nat(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFTNL_EXPR_NAT_REG_PROTO_MIN,
                NFTNL_EXPR_NAT_REG_PROTO_MAX,
                nfproto_family(nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_FAMILY)), "DNAT");
        }
    } else if (name == "redir") {
        nat(e, std::nullopt, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFTNL_EXPR_REDIR_REG_PROTO_MAX,
            std::nullopt, "REDIRECT");
    } else if (name == "target") {
        target(e);
    } else if (name == "bitwise") {
        load(e, NFTNL_EXPR_BITWISE_DREG, Loaded::other);
    } else if (name == "ct") {
        // ct original proto-dst: the destination port the client asked for, before any DNAT
        const bool original_port = nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY) == NFT_CT_PROTO_DST &&
                                   nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR) &&
                                   nftnl_expr_get_u8(e, NFTNL_EXPR_CT_DIR) == IP_CT_DIR_ORIGINAL;
        load(e, NFTNL_EXPR_CT_DREG, original_port ? Loaded::dport : Loaded::other);
    } else if (name == "lookup") {
        load(e, NFTNL_EXPR_LOOKUP_DREG, Loaded::other); // a map: what it loads is not read here
    }
}

// The family an nftables NAT rule acts on: its match, its table's, or its address's.
std::optional<Family> family_of(const NftRule& rule) {
    if (rule.nfproto) {
        return rule.nfproto;
    }
    if (rule.family == "ip" || rule.family == "ip6") {
        return rule.family == "ip" ? Family::ipv4 : Family::ipv6;
    }
    return rule.nat && rule.nat->address ? std::optional(rule.nat->address->family) : std::nullopt;
}

} // namespace

std::optional<NftRule> parse_nft_rule_message(std::span<const std::uint8_t> nlmsg,
                                              std::string* error) {
    RuleRead read = read_rule_message(nlmsg);
    if (!read.message || !read.message->rule) {
        if (error != nullptr) {
            *error = read.message ? read.message->error : read.error;
        }
        return std::nullopt;
    }
    const RuleMessage& m = *read.message;
    NftRule rule;
    rule.family = netlink::nft_family_name(m.family);
    rule.table = m.table;
    rule.chain = m.chain;
    Walk walk(rule, nfproto_family(m.family));
    nftnl_expr_foreach(
        m.rule.get(),
        [](nftnl_expr* e, void* data) {
            static_cast<Walk*>(data)->expression(e);
            return 0;
        },
        &walk);
    return rule;
}

std::vector<NftRule> nft_rules() {
    netlink::Socket socket(netlink::Bus::netfilter);
    detail::Request request;
    nlmsghdr* nlh = request.header(kGetRule, NLM_F_REQUEST | NLM_F_DUMP);
    detail::put_nfgenmsg(nlh, NFPROTO_UNSPEC, 0);
    std::vector<NftRule> rules;
    socket.transact(request.bytes(), "list nftables rules", [&](std::span<const std::uint8_t> m) {
        if (auto rule = parse_nft_rule_message(m)) {
            rules.push_back(std::move(*rule));
        }
    });
    return rules;
}

std::vector<NatForward> nft_nat_forwards(const std::vector<NftRule>& rules) {
    std::vector<NatForward> out;
    for (const NftRule& rule : rules) {
        if (!rule.nat || !rule.dport) {
            continue;
        }
        const auto protocol = rule.l4proto ? netlink::protocol_of(*rule.l4proto) : std::nullopt;
        if (rule.l4proto && !protocol) {
            continue; // sctp, dccp: not memcached's
        }
        out.push_back({"nft table " + rule.family + " " + rule.table + ", chain " + rule.chain,
                       family_of(rule), protocol, *rule.dport, *rule.nat});
    }
    return out;
}

} // namespace memguard::nft
