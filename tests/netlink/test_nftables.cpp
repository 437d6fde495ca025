#include "netlink/nftables.hpp"

#include "support.hpp"

#include "catch.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

using memguard::netlink::NftTable;
using memguard::netlink::parse_nft_table_message;

namespace {

constexpr std::uint16_t kNewTable = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE;

std::vector<std::uint8_t> table(std::uint8_t family, const char* name, std::uint32_t chains) {
    test::MessageBuilder b(kNewTable, NLM_F_MULTI);
    b.nfgen(family);
    mnl_attr_put_strz(b.nlh(), NFTA_TABLE_NAME, name);
    mnl_attr_put_u32(b.nlh(), NFTA_TABLE_USE, test::be32(chains));
    return b.bytes();
}

} // namespace

TEST_CASE("nftables: a table as the kernel dumps it", "[nftables]") {
    CHECK(parse_nft_table_message(table(NFPROTO_IPV4, "filter", 3)) == NftTable{"ip", "filter", 3});
    CHECK(parse_nft_table_message(table(NFPROTO_INET, "firewalld", 0)) ==
          NftTable{"inet", "firewalld", 0});
    CHECK(parse_nft_table_message(table(NFPROTO_IPV6, "nat", 1))->family == "ip6");
}

TEST_CASE("nftables: malformed or unrelated messages are refused", "[nftables]") {
    const auto full = table(NFPROTO_IPV4, "filter", 3);
    for (std::size_t n = 0; n < full.size(); n += 4) {
        const std::vector<std::uint8_t> cut(full.begin(),
                                            full.begin() + static_cast<std::ptrdiff_t>(n));
        CHECK_FALSE(parse_nft_table_message(cut).has_value());
    }
    test::MessageBuilder other((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN);
    other.nfgen(NFPROTO_IPV4);
    mnl_attr_put_strz(other.nlh(), NFTA_TABLE_NAME, "filter");
    CHECK_FALSE(parse_nft_table_message(other.bytes()).has_value());

    test::MessageBuilder nameless(kNewTable);
    nameless.nfgen(NFPROTO_IPV4);
    mnl_attr_put_u32(nameless.nlh(), NFTA_TABLE_USE, test::be32(1));
    CHECK_FALSE(parse_nft_table_message(nameless.bytes()).has_value());
}
