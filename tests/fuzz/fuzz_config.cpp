// Any bytes → a Policy or a ConfigError with at least one problem; nothing else may escape.
#include "config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const memguard::Policy policy = memguard::parse_config(text);
        if (policy.ports.empty() || policy.protocols.empty()) {
            std::abort(); // a valid policy always guards something
        }
    } catch (const memguard::ConfigError& e) {
        if (e.problems().empty()) {
            std::abort();
        }
    }
    return 0;
}
