// Helpers for the nftables namespace tests: a fresh network namespace per test, `nft` as the
// oracle, and Desired values to apply.
#pragma once

#include "desired.hpp"
#include "guards.hpp"
#include "keeper.hpp"
#include "netns_support.hpp"

#include <nlohmann/json.hpp>
#include <poll.h>
#include <sched.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace test {

// Moves this process into a new, empty network namespace with lo up. Called first by every test.
inline void fresh_netns() {
    REQUIRE(unshare(CLONE_NEWNET) == 0);
    REQUIRE(run("ip link set lo up") == 0);
}

inline std::string nft_text(const std::string& table = "memguard") {
    return capture("nft list table inet " + table + " 2>&1");
}

inline nlohmann::json nft_json(const std::string& table = "memguard") {
    const std::string out = capture("nft -j list table inet " + table + " 2>/dev/null");
    return out.empty() ? nlohmann::json() : nlohmann::json::parse(out);
}

// The objects of `kind` ("rule", "set", "chain", "table") in nft's JSON listing.
inline std::vector<nlohmann::json> nft_objects(const nlohmann::json& listing,
                                               const std::string& kind) {
    std::vector<nlohmann::json> out;
    if (listing.is_object() && listing.contains("nftables")) {
        for (const auto& item : listing["nftables"]) {
            if (item.contains(kind)) {
                out.push_back(item[kind]);
            }
        }
    }
    return out;
}

// `n` distinct IPv4 /32s in 10.0.0.0/8 (every other address, so none merge) and a /64 for IPv6,
// in one guard on 11211 tcp and udp.
inline memguard::Desired desired_with(std::size_t n, bool log = false) {
    std::vector<std::string> allow;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t a = i * 2;
        allow.push_back("10." + std::to_string((a >> 16) & 0xFF) + "." +
                        std::to_string((a >> 8) & 0xFF) + "." + std::to_string(a & 0xFF) + "/32");
    }
    allow.emplace_back("fd00:1::/64");
    memguard::Desired d = one_guard(allow);
    for (auto* f : {&d.ipv4, &d.ipv6}) {
        f->log_blocked = log;
        f->log_group = 11211;
        f->log_rate_per_s = 10;
    }
    return d;
}

// A pass result in words, for INFO().
// Waits up to `timeout` for the keeper's changed() to say so.
inline bool changed_within(memguard::nft::Keeper& keeper, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd pfd{keeper.change_fd(), POLLIN, 0};
        poll(&pfd, 1, 50);
        if (keeper.changed()) {
            return true;
        }
    }
    return false;
}

inline std::string describe(const memguard::nft::PassResult& r) {
    std::string out = "error: " + r.error + "; actions: " + r.actions + "; drift:";
    for (const auto& d : r.drift) {
        out += "\n  " + d.kind + " [" + d.where + "] " + d.text;
    }
    for (const auto& x : r.refused) {
        out += "\n  refused: " + x;
    }
    return out;
}

} // namespace test
