// Our table as wanted vs as found → drift in words. Rules are compared by their expressions
// (handles and counter values do not count), sets by the address ranges they cover.
#pragma once

#include "model.hpp"

#include <optional>
#include <string>
#include <vector>

namespace memguard::nft {

struct Drift {
    std::optional<Family> family; // none: the whole table (both families)
    std::string kind;             // "table_missing", "rule_missing", "set_members", ...
    std::string where;            // table, chain or set name
    std::string text;             // one line for a person
    friend bool operator==(const Drift&, const Drift&) = default;
};

struct Ownership {
    // The table must be owned (OWNER|PERSIST, held by a live socket, ours or not), or (unowned
    // mode) carry no OWNER flag at all.
    bool owned = true;
};

// `found` is nullopt when the kernel has no such table.
std::vector<Drift> compare_tables(const TableModel& wanted, const std::optional<TableModel>& found,
                                  const Ownership& ownership);

// The networks `found`'s allow set of `family` held that `wanted`'s no longer covers.
std::vector<Network> revoked_networks(const TableModel& wanted,
                                      const std::optional<TableModel>& found, Family family);

// "10.0.0.0/8, 192.168.0.0/16, …" (at most `shown` networks, then an ellipsis).
std::string list_networks(const std::vector<Network>& networks, std::size_t shown = 3);

} // namespace memguard::nft
