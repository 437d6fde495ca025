// Entry point of the nftables namespace tests: skips (exit 77) when not root or `nft` is
// missing. Each test then moves into a network namespace of its own (nft_netns.hpp), so no test
// sees another's tables and none touches the machine's own ruleset.
#define CATCH_CONFIG_RUNNER
#include "catch.hpp"

#include "nft_netns.hpp"

#include <unistd.h>

#include <iostream>
#include <string_view>

int main(int argc, char** argv) {
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
        for (const char* tool : {"ip", "nft"}) {
            if (test::run(std::string("command -v ") + tool + " >/dev/null") != 0) {
                std::cerr << "skipped: " << tool << " not installed\n";
                return 77;
            }
        }
    }
    return Catch::Session().run(argc, argv);
}
