// memguardd: CLI dispatch. Each command is a few lines over libfw's Guard.
#include "cli.hpp"
#include "commands.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    using namespace memguard;
    Options options;
    try {
        options = parse_args({argv + 1, argv + argc});
    } catch (const UsageError& e) {
        std::fprintf(stderr, "memguardd: %s\n%s", e.what(), usage(e.command()).c_str());
        return 2;
    }
    try {
        return run_command(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "memguardd: %s\n", e.what());
        return 1;
    }
}
