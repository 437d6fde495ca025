// Any bytes → a Policy or a ConfigError with at least one problem; nothing else may escape.
// The same bytes → ports_named_in's ports, sorted, once each, never 0, and for a valid file
// only ports it guards; and a valid policy's config_warnings without an exception.
#include "config.hpp"
#include "config_warnings.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto named = memguard::ports_named_in(text);
    if (!std::ranges::is_sorted(named) || std::ranges::adjacent_find(named) != named.end() ||
        std::ranges::find(named, 0) != named.end()) {
        std::abort();
    }
    try {
        const memguard::Policy policy = memguard::parse_config(text);
        const auto ports = memguard::all_ports(policy);
        if (ports.empty() || memguard::all_protocols(policy).empty()) {
            std::abort(); // a valid policy always guards something
        }
        for (const auto port : named) {
            if (std::ranges::find(ports, port) == ports.end()) {
                std::abort(); // failing closed on a valid file's ports, and no others
            }
        }
        (void)memguard::config_warnings(policy);
    } catch (const memguard::ConfigError& e) {
        if (e.problems().empty()) {
            std::abort();
        }
    }
    return 0;
}
