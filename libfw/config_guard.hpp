// Reading what a guard is made of, in the main file and in fragments alike: ports, protocols,
// allowlist entries (plain or labelled) and the guard objects of "guards"; and the two readers
// built on them, the main file's and a fragment's.
#pragma once

#include "config_json.hpp"
#include "policy.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace memguard::config_detail {

// Where each network of one guard was listed, so that a network listed twice is an error
// naming both places.
using AllowSeen = std::map<Network, ListedAt>;
using GuardSeen = std::map<std::string, AllowSeen, std::less<>>; // by guard name

// A non-empty array of port numbers at `path` ("ports", "guards[1].ports"), none twice.
void read_ports(Reader& r, const json& v, const std::string& path, std::vector<std::uint16_t>& out);
// A list of "tcp" and "udp", each at most once; `may_be_empty` for a list that can turn
// something off.
void read_protocol_list(Reader& r, const json& v, const std::string& path, bool may_be_empty,
                        std::vector<Protocol>& out);
// reverse_path_check names protocols the guard guards; unset, it is udp where udp is guarded.
// Called once every key of the object is read: "protocols" may come after it.
void settle_reverse_path(Reader& r, const std::optional<std::vector<Protocol>>& given,
                         const std::string& path, GuardSpec& g);
// Appends the entries of the allowlist at `path` to g.allow (and g.labels, g.listed_at); `file`
// is where the list is ("" for the main file).
void read_allow(Reader& r, const json& v, const std::string& path, GuardSpec& g, AllowSeen& seen,
                const std::string& file = {});

// One object of "guards" at `path` ("guards[0]") in `file` ("" for the main file): name and
// ports required. nullopt when it is not an object with a valid name (the problems say why).
std::optional<GuardSpec> read_guard(Reader& r, const json& v, const std::string& path,
                                    AllowSeen& seen, const std::string& file = {});
// A guard name as logs, metrics, set names and file names can carry it.
bool valid_guard_name(const json& v);

// No (protocol, port) in two guards: a packet must have one allowlist.
void check_overlaps(Reader& r, const std::vector<GuardSpec>& guards);

// The main file's policy; problems go to `r`. Throws ConfigError when the text is not a JSON
// object.
Policy parse_main(std::string_view text, Reader& r, GuardSeen& seen);
// Adds a fragment's allow entries and guards to `p`; problems go to `r`. Throws ConfigError when
// the text is not a JSON object.
void merge_fragment(Reader& r, std::string_view text, const std::string& file, Policy& p,
                    GuardSeen& seen);

} // namespace memguard::config_detail
