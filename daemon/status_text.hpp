// `memguardd status` as text: a short summary an operator reads in one look, and under
// --verbose the detail behind it. Both read the JSON document status.cpp gathers (what
// `status --json` prints).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace memguard {

// The summary, a line each: the daemon, in sync or not, the backend, each guard, the last passes;
// then, only when something is wrong, one line each with what to do about it. A healthy daemon
// with up to four guards gets at most 12 lines.
std::vector<std::string> status_summary(const nlohmann::json& status);

// What --verbose adds after the summary: every rule of ours per family with its counters, our
// sets, the labelled entries, and how to see the rules with the backend's own tools.
std::vector<std::string> status_details(const nlohmann::json& status);

} // namespace memguard
