#include "nftables.hpp"

#include "detail.hpp"
#include "socket.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

namespace memguard::netlink {

namespace {

constexpr std::uint16_t kGetTable = detail::nfnl_type(NFNL_SUBSYS_NFTABLES, NFT_MSG_GETTABLE);
constexpr std::uint16_t kNewTable = detail::nfnl_type(NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWTABLE);

constexpr detail::AttrPolicy<NFTA_TABLE_MAX + 1> kPolicy = [] {
    detail::AttrPolicy<NFTA_TABLE_MAX + 1> p{};
    p[NFTA_TABLE_NAME] = {MNL_TYPE_NUL_STRING, 0};
    p[NFTA_TABLE_USE] = {MNL_TYPE_U32, 0};
    return p;
}();

} // namespace

std::string nft_family_name(std::uint32_t family) {
    switch (family) {
    case NFPROTO_IPV4:
        return "ip";
    case NFPROTO_IPV6:
        return "ip6";
    case NFPROTO_INET:
        return "inet";
    case NFPROTO_ARP:
        return "arp";
    case NFPROTO_BRIDGE:
        return "bridge";
    case NFPROTO_NETDEV:
        return "netdev";
    default:
        return "family " + std::to_string(family);
    }
}

std::optional<NftTable> parse_nft_table_message(std::span<const std::uint8_t> nlmsg) {
    const detail::MessageView view(nlmsg);
    nfgenmsg nfg{};
    if (view.get() == nullptr || view.get()->nlmsg_type != kNewTable || !view.extra_header(nfg)) {
        return std::nullopt;
    }
    detail::AttrTable<NFTA_TABLE_MAX + 1> attrs(kPolicy);
    if (!attrs.parse(view.get(), sizeof(nfgenmsg)) || attrs[NFTA_TABLE_NAME] == nullptr) {
        return std::nullopt;
    }
    NftTable table;
    table.family = nft_family_name(nfg.nfgen_family);
    table.name = mnl_attr_get_str(attrs[NFTA_TABLE_NAME]);
    if (const auto* use = attrs[NFTA_TABLE_USE]) {
        table.chains = detail::load_be32(mnl_attr_get_payload(use));
    }
    return table;
}

std::vector<NftTable> nft_tables() {
    Socket socket(Bus::netfilter);
    detail::Request request;
    nlmsghdr* nlh = request.header(kGetTable, NLM_F_REQUEST | NLM_F_DUMP);
    detail::put_nfgenmsg(nlh, NFPROTO_UNSPEC, 0);
    std::vector<NftTable> tables;
    socket.transact(request.bytes(), "list nftables tables", [&](std::span<const std::uint8_t> m) {
        if (auto table = parse_nft_table_message(m)) {
            tables.push_back(std::move(*table));
        }
    });
    return tables;
}

} // namespace memguard::netlink
