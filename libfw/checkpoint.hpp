// Named points in an apply where a test may kill or stop the process, to prove that a crash at
// any of them leaves the port closed (tests/hostile/fault_injection.sh). Inert unless the
// environment asks: MEMGUARD_TEST_KILL_AT=NAME raises SIGKILL, MEMGUARD_TEST_STOP_AT=NAME raises
// SIGSTOP, the first time the process reaches NAME.
#pragma once

#include <string_view>

namespace memguard {

// before_lock, after_lock, after_set_load, after_commit, before_revocation.
void checkpoint(std::string_view name);

} // namespace memguard
