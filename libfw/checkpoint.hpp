// Named points in an apply where a test may kill or stop the process, to prove that a crash at
// any of them leaves the port closed (tests/hostile/fault_injection.sh). Inert unless the
// environment asks: MEMGUARD_TEST_KILL_AT=NAME raises SIGKILL, MEMGUARD_TEST_STOP_AT=NAME raises
// SIGSTOP, the first time the process reaches NAME.
//
// These hooks, and every other MEMGUARD_TEST_* variable (test_hook()), exist only in a build
// configured with -DMEMGUARD_TEST_HOOKS=ON, as scripts/test configures its builds. Elsewhere (the
// default, and the Debian package) the environment is never read: whoever can set the daemon's
// environment must not make it kill itself mid-apply or give up its table's ownership.
#pragma once

#include <string_view>

namespace memguard {

// iptables-legacy: before_lock, after_lock, after_set_load, after_commit; nftables:
// nft_after_read, nft_before_commit, nft_after_commit; both: before_revocation.
void checkpoint(std::string_view name);

// The value of the test hook variable `name` (MEMGUARD_TEST_...) in a build with the test hooks;
// nullptr in any other build, whatever the environment holds.
const char* test_hook(const char* name);

} // namespace memguard
