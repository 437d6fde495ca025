// What a valid config says that its author probably did not mean: allow entries that let
// everybody in or match nothing, and an allowlist that lets no other machine in.
#pragma once

#include "policy.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace memguard {

// One finding: what it says, and the file it is about.
struct ConfigWarning {
    std::string file; // the fragment that holds the entry; "" for the main file
    // Led by the JSON path in that file, e.g. `allow[0]: 0.0.0.0/0 lets every IPv4 host in: port
    // 11211 is not guarded for IPv4; list the networks that need memcached`.
    std::string text;

    // "FILE: text", FILE being the fragment or else `main_file`; the bare text when that is "".
    [[nodiscard]] std::string located(std::string_view main_file) const;
    friend bool operator==(const ConfigWarning&, const ConfigWarning&) = default;
};

// One warning per finding, saying what it means and what to do. An entry is named where it was
// written (GuardSpec::listed_at: the fragment and its path there); an entry of a policy made in
// code by its index, under "guards[i]." with several guards, as is each allowlist as a whole.
// First, each entry of the fragment directory that is not read (Policy::ignored_files). Empty
// when there is nothing to say.
std::vector<ConfigWarning> config_warnings(const Policy& policy);

// Whether the allowlist is the one config/memguard.json ships: the private ranges.
bool is_shipped_default(const Policy& policy);

// True when the allowed networks of `family` together hold every address of it (0.0.0.0/0, or
// 0.0.0.0/1 with 128.0.0.0/1, ...): a guard with that allowlist does not guard that family.
bool lets_everyone_in(const std::vector<Network>& allow, Family family);

} // namespace memguard
