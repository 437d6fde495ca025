// libnftnl objects as move-only owners: each freed by its own free function, a null one never.
// Internal to libfw/nft (names libnftnl's types).
#pragma once

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include <memory>
#include <new>
#include <string_view>

namespace memguard::nft {

template <auto Free> struct FreeWith {
    template <typename T> void operator()(T* p) const { Free(p); }
};

using TablePtr = std::unique_ptr<nftnl_table, FreeWith<nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, FreeWith<nftnl_chain_free>>;
using SetPtr = std::unique_ptr<nftnl_set, FreeWith<nftnl_set_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, FreeWith<nftnl_rule_free>>;
using ExprPtr = std::unique_ptr<nftnl_expr, FreeWith<nftnl_expr_free>>;
using GenPtr = std::unique_ptr<nftnl_gen, FreeWith<nftnl_gen_free>>;
using UdataPtr = std::unique_ptr<nftnl_udata_buf, FreeWith<nftnl_udata_buf_free>>;

// Allocates with `alloc`, or throws std::bad_alloc (libnftnl returns NULL only when out of memory).
template <typename Ptr, typename Alloc> Ptr make(Alloc alloc) {
    Ptr p(alloc());
    if (!p) {
        throw std::bad_alloc();
    }
    return p;
}

// nft's userdata format: TLVs, the comment being type 0 for tables, chains and rules and
// NFTNL_UDATA_SET_COMMENT for sets (libnftnl/udata.h); `nft list` prints it as `comment "..."`.
UdataPtr comment_udata(std::uint8_t type, std::string_view comment);
// The comment (TLV `type`) in a userdata blob, or "" when there is none.
std::string comment_from_udata(const void* data, std::uint32_t len, std::uint8_t type);

} // namespace memguard::nft
