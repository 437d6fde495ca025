// Shared helpers for the netlink tests: a message builder on libmnl (the same calls the kernel's
// messages are parsed with, used in reverse) and printable values for Catch2's messages.
#pragma once

#include "catch.hpp"

#include "net.hpp"
#include "netlink/conntrack.hpp"
#include "netlink/nflog.hpp"
#include "netlink/sockdiag.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace test {

// One netlink message, built byte by byte in aligned storage.
class MessageBuilder {
public:
    explicit MessageBuilder(std::uint16_t type, std::uint16_t flags = 0)
        : storage_(kSize / sizeof(std::uint32_t), 0) {
        nlh_ = mnl_nlmsg_put_header(storage_.data());
        nlh_->nlmsg_type = type;
        nlh_->nlmsg_flags = flags;
    }
    nlmsghdr* nlh() { return nlh_; }

    // The nfnetlink extra header.
    MessageBuilder& nfgen(std::uint8_t family, std::uint16_t res_id = 0) {
        auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(nfgenmsg)));
        g->nfgen_family = family;
        g->version = NFNETLINK_V0;
        g->res_id = static_cast<std::uint16_t>(((res_id & 0xFF) << 8) | (res_id >> 8));
        return *this;
    }
    template <typename T>
    MessageBuilder& extra(const T& header) {
        std::memcpy(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)), &header, sizeof(T));
        return *this;
    }

    // The message as bytes (exactly nlmsg_len of them).
    [[nodiscard]] std::vector<std::uint8_t> bytes() const {
        const auto* p = reinterpret_cast<const std::uint8_t*>(storage_.data());
        return {p, p + nlh_->nlmsg_len};
    }

    static constexpr std::size_t kSize = 8192;

private:
    std::vector<std::uint32_t> storage_;
    nlmsghdr* nlh_ = nullptr;
};

inline std::uint16_t be16(std::uint16_t v) {
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    std::uint16_t out = 0;
    std::memcpy(&out, b, 2);
    return out;
}
inline std::uint32_t be32(std::uint32_t v) {
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24),
                               static_cast<std::uint8_t>(v >> 16),
                               static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    std::uint32_t out = 0;
    std::memcpy(&out, b, 4);
    return out;
}

// Host-order integers as bytes, for requests compared byte by byte.
inline void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
}
inline void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
}
// An attribute header: length (header included, padding not) and type.
inline void attr(std::vector<std::uint8_t>& out, std::uint16_t len, std::uint16_t type) {
    put16(out, len);
    put16(out, type);
}

inline memguard::Network net(const char* text) {
    auto n = memguard::parse_network(text);
    REQUIRE(n.has_value());
    return *n;
}

// Writes nlmsg_len into a copy of the bytes (to lie about the length).
inline std::vector<std::uint8_t> with_length(std::vector<std::uint8_t> bytes, std::uint32_t len) {
    std::memcpy(bytes.data(), &len, sizeof len);
    return bytes;
}

// Bounds checks every parser test runs; `parse` takes the bytes as a span and returns an
// optional. Every prefix of `full`, each in a heap block of exactly its size (so ASan catches a
// read past it) while nlmsg_len still claims the whole message, and `full` with an nlmsg_len
// longer than its bytes: nothing parses.
template <typename Parse> void check_cut_short(const std::vector<std::uint8_t>& full, Parse parse) {
    for (std::size_t n = 0; n < full.size(); ++n) {
        std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        cut.shrink_to_fit();
        CHECK(!parse(cut));
    }
    CHECK(!parse(with_length(full, static_cast<std::uint32_t>(full.size() + 4))));
}

// `full` with nlmsg_len shortened to every smaller value: attributes that no longer fit are not
// read, so each result is nothing or, when only trailing attributes were cut, `whole`.
template <typename Parse, typename T>
void check_shortened(const std::vector<std::uint8_t>& full, Parse parse, const T& whole) {
    for (std::uint32_t len = 0; len < full.size(); ++len) {
        auto lied = with_length(full, len);
        lied.resize(len < 16 ? 16 : len);
        lied.shrink_to_fit();
        const auto result = parse(lied);
        if (result) {
            CHECK(*result == whole);
        }
    }
}

// `full` one byte into its buffer: parse std::span(result).subspan(1) to read it misaligned.
inline std::vector<std::uint8_t> shifted_by_one(const std::vector<std::uint8_t>& full) {
    std::vector<std::uint8_t> shifted(full.size() + 1);
    std::copy(full.begin(), full.end(), shifted.begin() + 1);
    return shifted;
}

// `rounds` copies of `full`, each with one to four bytes changed and cut at a random length,
// through `parse`: whatever it answers, it must not crash or read outside the bytes (ASan).
template <typename Parse>
void corrupt_randomly(const std::vector<std::uint8_t>& full, std::uint32_t seed, int rounds,
                      Parse parse) {
    std::mt19937 rng(seed);
    for (int round = 0; round < rounds; ++round) {
        auto bytes = full;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips; ++i) {
            bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
        }
        bytes.resize(rng() % (bytes.size() + 1));
        bytes.shrink_to_fit();
        (void)parse(bytes);
    }
}

} // namespace test

namespace Catch {
template <> struct StringMaker<memguard::netlink::ConntrackTuple> {
    static std::string convert(const memguard::netlink::ConntrackTuple& t) {
        std::string out = "{" + t.source.to_string() + ":" + std::to_string(t.source_port) +
                          " -> " + t.destination.to_string() + ":" +
                          std::to_string(t.destination_port) +
                          " proto " + std::to_string(t.l4proto);
        if (t.zone) {
            out += " zone " + std::to_string(*t.zone);
        }
        if (t.id) {
            out += " id " + std::to_string(*t.id);
        }
        return out + "}";
    }
};
template <> struct StringMaker<memguard::netlink::BlockedPacket> {
    static std::string convert(const memguard::netlink::BlockedPacket& p) {
        return "{" + std::string(memguard::to_string(p.family)) + " " + p.source.to_string() + " " +
               (p.protocol ? std::string(memguard::to_string(*p.protocol)) : "?") + "/" +
               std::to_string(p.dport) + " on '" + p.in_iface + "' prefix '" + p.prefix + "'}";
    }
};
template <> struct StringMaker<memguard::netlink::ListeningSocket> {
    static std::string convert(const memguard::netlink::ListeningSocket& s) {
        return "{" + std::string(memguard::to_string(s.family)) + " " +
               std::string(memguard::to_string(s.protocol)) + " " + s.address + ":" +
               std::to_string(s.port) + " v6only " +
               (s.v6only ? (*s.v6only ? "1" : "0") : "?") +
               (s.v6only_unknown_or_dual ? " dual" : "") + " inode " + std::to_string(s.inode) +
               "}";
    }
};
template <> struct StringMaker<memguard::netlink::TcpConnection> {
    static std::string convert(const memguard::netlink::TcpConnection& c) {
        return "{" + std::string(memguard::to_string(c.family)) + " " + c.local.to_string() + ":" +
               std::to_string(c.local_port) + " <- " + c.remote.to_string() + ":" +
               std::to_string(c.remote_port) + " state " + std::to_string(c.state) + "}";
    }
};
} // namespace Catch
