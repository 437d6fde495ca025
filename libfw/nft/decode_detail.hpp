// Internal to libfw/nft/decode*.cpp: the netlink helpers the parsers share.
#pragma once

#include "decode.hpp"
#include "handles.hpp"
#include "netlink/detail.hpp"

#include <linux/netfilter/nfnetlink.h>

#include <cstring>

namespace memguard::nft {

namespace detail = netlink::detail;

// The header when `view` holds an nftables message `msg` with an nfgenmsg (family copied out).
inline const nlmsghdr* nft_header(const detail::MessageView& view, unsigned msg,
                                  std::uint8_t& family) {
    nfgenmsg nfg{};
    const nlmsghdr* nlh = view.get(detail::nfnl_type(NFNL_SUBSYS_NFTABLES, msg), nfg);
    family = nfg.nfgen_family;
    return nlh;
}

// Calls `f` on each attribute inside `nest`; false as soon as `f` says so.
template <typename F> bool each_nested(const nlattr* nest, F f) {
    struct Call {
        F& f;
        static int run(const nlattr* a, void* data) {
            return static_cast<Call*>(data)->f(a) ? MNL_CB_OK : MNL_CB_ERROR;
        }
    } call{f};
    return mnl_attr_parse_nested(nest, &Call::run, &call) != MNL_CB_ERROR;
}

// Calls `f` on each attribute of a message after `offset` bytes of extra header.
template <typename F> bool each_attr(const nlmsghdr* nlh, std::size_t offset, F f) {
    struct Call {
        F& f;
        static int run(const nlattr* a, void* data) {
            return static_cast<Call*>(data)->f(a) ? MNL_CB_OK : MNL_CB_ERROR;
        }
    } call{f};
    return mnl_attr_parse(nlh, static_cast<unsigned>(offset), &Call::run, &call) != MNL_CB_ERROR;
}

} // namespace memguard::nft
