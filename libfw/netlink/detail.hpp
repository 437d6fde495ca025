// Internal to libfw/netlink: included only by this folder's .cpp files, never by a public header
// (it names libmnl and kernel structs, which the public headers keep out).
//
// Two tools every parser here uses the same way:
//   MessageView — one received message as bytes → a netlink header libmnl may walk without
//                 reading outside the bytes it was given;
//   AttrTable   — one nesting level's attributes, each validated against that level's policy
//                 (type and exact length) before it is stored; only stored attributes are read.
#pragma once

#include "net.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace memguard::netlink::detail {

// Byte-order helpers on raw bytes: no alignment assumed, no libc macros (htons & co. trip
// -Wconversion on some glibc versions).
inline std::uint16_t load_be16(const void* p) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}
inline std::uint32_t load_be32(const void* p) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
}
// Value that, stored in memory as is, reads as `v` in network byte order (for mnl_attr_put_u16).
inline std::uint16_t to_be16(std::uint16_t v) {
    std::uint16_t out = 0;
    const std::array<std::uint8_t, 2> b{static_cast<std::uint8_t>(v >> 8),
                                        static_cast<std::uint8_t>(v & 0xFF)};
    std::memcpy(&out, b.data(), sizeof out);
    return out;
}
inline std::uint32_t to_be32(std::uint32_t v) {
    std::uint32_t out = 0;
    const std::array<std::uint8_t, 4> b{
        static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>((v >> 16) & 0xFF),
        static_cast<std::uint8_t>((v >> 8) & 0xFF), static_cast<std::uint8_t>(v & 0xFF)};
    std::memcpy(&out, b.data(), sizeof out);
    return out;
}

// The address family an extra header names (nfgen_family, ifa_family) → ours; nullopt for any
// family but AF_INET and AF_INET6.
inline std::optional<Family> family_from(std::uint8_t af) {
    if (af == AF_INET) {
        return Family::ipv4;
    }
    if (af == AF_INET6) {
        return Family::ipv6;
    }
    return std::nullopt;
}

// A netlink message given as bytes, made safe for libmnl to walk.
//
// libmnl trusts nlmsg_len, reads the header and attributes through struct pointers (which need
// 4-byte alignment), and iterates attributes up to MNL_ALIGN(nlmsg_len). So: the header must
// fit, nlmsg_len must be aligned and lie within the bytes given, and misaligned bytes are copied
// to aligned storage. Messages read from a socket into our own buffer take the no-copy path.
class MessageView {
public:
    explicit MessageView(std::span<const std::uint8_t> bytes) {
        if (bytes.size() < sizeof(nlmsghdr)) {
            return;
        }
        std::uint32_t len = 0;
        std::memcpy(&len, bytes.data() + offsetof(nlmsghdr, nlmsg_len), sizeof len);
        // The kernel pads every message to 4 bytes (each attribute is padded, nlmsg_end covers
        // the padding), so an unaligned length means a cut message. Refusing it also keeps
        // libmnl from taking up to 3 bytes past nlmsg_len as part of the last attribute.
        if (len < MNL_NLMSG_HDRLEN || len > bytes.size() || len % MNL_ALIGNTO != 0) {
            return;
        }
        if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(nlmsghdr) == 0) {
            nlh_ = reinterpret_cast<const nlmsghdr*>(bytes.data());
            return;
        }
        storage_.assign(len / sizeof(std::uint32_t), 0);
        std::memcpy(storage_.data(), bytes.data(), len);
        nlh_ = reinterpret_cast<const nlmsghdr*>(storage_.data());
    }
    MessageView(const MessageView&) = delete;
    MessageView& operator=(const MessageView&) = delete;
    MessageView(MessageView&&) = delete; // nlh_ may point into storage_
    MessageView& operator=(MessageView&&) = delete;
    ~MessageView() = default;

    // The header, or nullptr when the bytes are not one whole netlink message.
    [[nodiscard]] const nlmsghdr* get() const { return nlh_; }
    // The header when the message is of `type` and its payload holds the extra header `T`
    // (copied into `extra`); nullptr otherwise.
    template <typename T> [[nodiscard]] const nlmsghdr* get(std::uint16_t type, T& extra) const {
        return nlh_ != nullptr && nlh_->nlmsg_type == type && extra_header(extra) ? nlh_ : nullptr;
    }

    // The extra header (nfgenmsg, inet_diag_msg, ...) copied out, when the payload holds one.
    template <typename T> [[nodiscard]] bool extra_header(T& out) const {
        if (nlh_ == nullptr || mnl_nlmsg_get_payload_len(nlh_) < sizeof(T)) {
            return false;
        }
        std::memcpy(&out, mnl_nlmsg_get_payload(nlh_), sizeof(T));
        return true;
    }

    // The address family a netfilter message (its nfgenmsg) is about; nullopt for a message
    // without one, or about another family (bridge, arp, netdev).
    [[nodiscard]] std::optional<Family> nfgen_family() const {
        nfgenmsg gen{};
        return extra_header(gen) ? family_from(gen.nfgen_family) : std::nullopt;
    }

private:
    std::vector<std::uint32_t> storage_;
    const nlmsghdr* nlh_ = nullptr;
};

// What one attribute type must look like. `len` != 0 asks for exactly that many payload bytes
// (mnl_attr_validate2, for addresses and structs); otherwise the type's own size is checked
// (mnl_attr_validate). Types left MNL_TYPE_UNSPEC are ones we never read: skipped, not stored.
struct AttrRule {
    mnl_attr_data_type type = MNL_TYPE_UNSPEC;
    std::size_t len = 0;
};

template <std::size_t N> using AttrPolicy = std::array<AttrRule, N>;

// One nesting level's attributes after validation, indexed by type. The parse callback is the
// one callback of that level: it checks the type is known, validates the attribute against the
// level's policy, and only then stores it. Any attribute we read that fails validation fails the
// whole level; attributes newer than our headers are skipped (the kernel may add some).
template <std::size_t N> class AttrTable {
public:
    explicit AttrTable(const AttrPolicy<N>& policy) : policy_(policy) {}

    // Attributes of a message, after `offset` bytes of extra header.
    [[nodiscard]] bool parse(const nlmsghdr* nlh, std::size_t offset) {
        if (mnl_nlmsg_get_payload_len(nlh) < offset) {
            return false;
        }
        return mnl_attr_parse(nlh, static_cast<unsigned>(offset), &AttrTable::collect, this) !=
               MNL_CB_ERROR;
    }
    // Attributes inside a nest (already validated as MNL_TYPE_NESTED by the level above).
    [[nodiscard]] bool parse(const nlattr* nest) {
        return mnl_attr_parse_nested(nest, &AttrTable::collect, this) != MNL_CB_ERROR;
    }

    [[nodiscard]] const nlattr* operator[](std::size_t type) const {
        return type < N ? attrs_[type] : nullptr;
    }

private:
    static int collect(const nlattr* attr, void* data) {
        auto* self = static_cast<AttrTable*>(data);
        if (mnl_attr_type_valid(attr, static_cast<std::uint16_t>(N - 1)) < 0) {
            return MNL_CB_OK; // newer than our headers: never read, so skipped
        }
        const std::uint16_t type = mnl_attr_get_type(attr);
        const AttrRule& rule = self->policy_[type];
        if (rule.type == MNL_TYPE_UNSPEC) {
            return MNL_CB_OK; // not one we read
        }
        const int valid = rule.len != 0 ? mnl_attr_validate2(attr, rule.type, rule.len)
                                        : mnl_attr_validate(attr, rule.type);
        if (valid < 0) {
            return MNL_CB_ERROR;
        }
        self->attrs_[type] = attr;
        return MNL_CB_OK;
    }

    const AttrPolicy<N>& policy_;
    std::array<const nlattr*, N> attrs_{};
};

// A request under construction: aligned storage and the libmnl calls that fill it. Requests are
// small and of fixed shape (a few attributes), so one page is plenty; `finish` returns the bytes.
class Request {
public:
    Request() : storage_(kSize / sizeof(std::uint32_t), 0) {}

    [[nodiscard]] nlmsghdr* header(std::uint16_t type, std::uint16_t flags) {
        nlmsghdr* nlh = mnl_nlmsg_put_header(storage_.data());
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = flags;
        return nlh;
    }
    [[nodiscard]] std::span<std::uint8_t> bytes() {
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(storage_.data());
        return {reinterpret_cast<std::uint8_t*>(storage_.data()), nlh->nlmsg_len};
    }
    [[nodiscard]] std::vector<std::uint8_t> copy() {
        const auto b = bytes();
        return {b.begin(), b.end()};
    }

    static constexpr std::size_t kSize = 4096;

private:
    std::vector<std::uint32_t> storage_;
};

// An nfnetlink message type: the subsystem in the high byte, its message in the low byte
// (NFNL_SUBSYS_* and e.g. IPCTNL_MSG_CT_GET, linux/netfilter/nfnetlink.h).
constexpr std::uint16_t nfnl_type(unsigned subsystem, unsigned message) {
    return static_cast<std::uint16_t>((subsystem << 8) | message);
}

// The nfnetlink extra header every netfilter request starts with: the address family it is
// about (AF_UNSPEC, AF_INET, AF_INET6), the version, and a subsystem-specific resource id
// (nfnetlink_log: the group number), in network byte order.
inline void put_nfgenmsg(nlmsghdr* nlh, std::uint8_t family, std::uint16_t res_id) {
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = family;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = to_be16(res_id);
}

// Extended ACK (NETLINK_EXT_ACK): after the error code the kernel may append attributes, of
// which NLMSGERR_ATTR_MSG is a human-readable reason. Best effort: none on older kernels.
inline std::string extack_message(const nlmsghdr* nlh, std::size_t offset) {
    if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) {
        return {};
    }
    static constexpr detail::AttrPolicy<NLMSGERR_ATTR_MAX + 1> kPolicy = [] {
        detail::AttrPolicy<NLMSGERR_ATTR_MAX + 1> p{};
        p[NLMSGERR_ATTR_MSG] = {MNL_TYPE_NUL_STRING, 0};
        return p;
    }();
    detail::AttrTable table(kPolicy);
    if (!table.parse(nlh, offset) || table[NLMSGERR_ATTR_MSG] == nullptr) {
        return {};
    }
    return mnl_attr_get_str(table[NLMSGERR_ATTR_MSG]);
}

} // namespace memguard::netlink::detail
