// Entry point of the namespace tests. Each run moves itself into a network namespace of its own
// (unshare(CLONE_NEWNET): what `unshare -n` does, without the re-exec), brings lo up there, and
// only then runs the tests: every socket, rule, conntrack entry and packet they make lives and
// dies with that namespace. Traffic only goes to the namespace's own loopback addresses.
// Exit status 77 (ctest: skipped) when not root or when a tool is missing.
#define CATCH_CONFIG_RUNNER
#include "catch.hpp"

#include "netns_support.hpp"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string_view>

int main(int argc, char** argv) {
    // catch_discover_tests lists the tests at build time, unprivileged: no namespace for that.
    bool listing = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg(argv[i]);
        listing = listing || arg.starts_with("--list") || arg == "-h" || arg == "--help";
    }
    if (!listing) {
        if (geteuid() != 0) {
            std::cerr << "skipped: needs root to make its own network namespace\n";
            return 77;
        }
        for (const char* tool :
             {"ip", "python3", "iptables-legacy", "ip6tables-legacy", "conntrack", "memcached"}) {
            if (test::run(std::string("command -v ") + tool + " >/dev/null") != 0) {
                std::cerr << "skipped: " << tool << " not installed\n";
                return 77;
            }
        }
        if (unshare(CLONE_NEWNET) != 0) {
            std::cerr << "skipped: unshare(CLONE_NEWNET): " << std::strerror(errno) << "\n";
            return 77;
        }
        if (test::run("ip link set lo up") != 0) {
            std::cerr << "cannot bring lo up in the new namespace\n";
            return 1;
        }
    }
    return Catch::Session().run(argc, argv);
}
