// One builder per nftables expression, each appending to a rule: the vocabulary rules.cpp
// writes rules in. Everything loads into and compares NFT_REG_1 (a 16-byte register, wide
// enough for an IPv6 address or an interface name). Internal to libfw/nft.
#pragma once

#include "handles.hpp"

#include <cstdint>
#include <span>
#include <string_view>

namespace memguard::nft::expr {

// meta load KEY => reg 1 (NFT_META_NFPROTO, NFT_META_L4PROTO, NFT_META_IIFNAME)
void meta(nftnl_rule* rule, std::uint32_t key);
// payload load LEN bytes @ BASE header + OFFSET => reg 1
void payload(nftnl_rule* rule, std::uint32_t base, std::uint32_t offset, std::uint32_t len);
// ct load KEY => reg 1 (NFT_CT_STATE, NFT_CT_STATUS, NFT_CT_DIRECTION)
void ct(nftnl_rule* rule, std::uint32_t key);
// ct load KEY => reg 1 , dir DIRECTION (a tuple's field: NFT_CT_PROTO_DST, IP_CT_DIR_ORIGINAL)
void ct_tuple(nftnl_rule* rule, std::uint32_t key, std::uint8_t direction);
// fib FLAGS RESULT => reg 1 (NFT_FIB_RESULT_ADDRTYPE, NFT_FIB_RESULT_OIF; NFTA_FIB_F_*)
void fib(nftnl_rule* rule, std::uint32_t result, std::uint32_t flags);
// reg 1 = (reg 1 & mask) ^ 0
void bitwise_and(nftnl_rule* rule, std::span<const std::uint8_t> mask);
// cmp OP reg 1 DATA (NFT_CMP_EQ, NFT_CMP_NEQ)
void cmp(nftnl_rule* rule, std::uint32_t op, std::span<const std::uint8_t> data);
// lookup reg 1 set NAME (by name, and by id when the set is made in the same batch)
void lookup(nftnl_rule* rule, std::string_view set, std::uint32_t set_id);
// immediate reg 0 VERDICT [CHAIN] (NF_ACCEPT, NF_DROP, NFT_JUMP)
void verdict(nftnl_rule* rule, int code, std::string_view chain = {});
void counter(nftnl_rule* rule);
// limit rate N/second burst B packets
void limit(nftnl_rule* rule, std::uint64_t per_second, std::uint32_t burst);
// log prefix "P" group G
void log(nftnl_rule* rule, std::string_view prefix, std::uint16_t group);
// reject type T code C (NFT_REJECT_TCP_RST, NFT_REJECT_ICMP_UNREACH)
void reject(nftnl_rule* rule, std::uint32_t type, std::uint8_t code);

} // namespace memguard::nft::expr
