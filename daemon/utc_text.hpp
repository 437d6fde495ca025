// Times as the daemon writes them: in the state files, status and the journal.
#pragma once

#include <cstdint>
#include <string>

namespace memguard {

// "2026-12-06T12:57:16Z"
std::string utc_text(std::int64_t unix_seconds);

} // namespace memguard
