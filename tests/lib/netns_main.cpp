// Entry point of the namespace tests (tests/netlink, tests/nft). Each suite's CMakeLists names
// the tools it needs (MEMGUARD_NETNS_TOOLS, space-separated) and whether the whole run moves
// into a network namespace of its own first (MEMGUARD_NETNS_UNSHARE=1: unshare(CLONE_NEWNET),
// what `unshare -n` does without the re-exec, with lo brought up there; with 0 each test makes
// its own namespace). Either way every socket, rule and packet lives and dies with a namespace
// the test made. Without root or a needed tool the run prints a "SKIP: reason" line and exits
// 77, which ctest counts as skipped (SKIP_RETURN_CODE 77).
#define CATCH_CONFIG_RUNNER
#include "catch.hpp"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#ifndef MEMGUARD_NETNS_TOOLS
#error "MEMGUARD_NETNS_TOOLS: the tools this suite needs, space-separated"
#endif
#ifndef MEMGUARD_NETNS_UNSHARE
#error "MEMGUARD_NETNS_UNSHARE: 1 when the whole run moves into a namespace of its own"
#endif

namespace {

constexpr int skipped = 77;

bool shell_ok(const std::string& command) {
    const int status = std::system(command.c_str()); // NOLINT(cert-env33-c): a test tool check
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// catch_discover_tests lists the tests at build time, unprivileged: no checks for that.
bool only_listing(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg(argv[i]);
        if (arg.starts_with("--list") || arg == "-h" || arg == "--help") {
            return true;
        }
    }
    return false;
}

// The reason this run cannot do what it claims, or empty when it can.
std::string missing_requirement() {
    if (geteuid() != 0) {
        return "needs root to make its own network namespace";
    }
    std::istringstream tools(MEMGUARD_NETNS_TOOLS);
    for (std::string tool; tools >> tool;) {
        if (!shell_ok("command -v " + tool + " >/dev/null")) {
            return tool + " not installed (scripts/install-deps --test)";
        }
    }
    return {};
}

} // namespace

int main(int argc, char** argv) {
    if (!only_listing(argc, argv)) {
        if (const std::string why = missing_requirement(); !why.empty()) {
            std::cout << "SKIP: " << why << "\n";
            return skipped;
        }
        if (MEMGUARD_NETNS_UNSHARE != 0) {
            if (unshare(CLONE_NEWNET) != 0) {
                std::cout << "SKIP: unshare(CLONE_NEWNET): " << std::strerror(errno) << "\n";
                return skipped;
            }
            if (!shell_ok("ip link set lo up")) {
                std::cerr << "cannot bring lo up in the new namespace\n";
                return 1;
            }
        }
    }
    return Catch::Session().run(argc, argv);
}
