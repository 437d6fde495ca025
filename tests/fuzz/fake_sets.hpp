// Set names without the kernel, for the fuzzers: index 1 is memguard4, 2 is memguard6 (our
// sets), 0xFFFF no set, any other index a foreign set; so a set match decodes as ours, as not
// ours, or without a name.
#pragma once

#include "legacy/iptc/entry.hpp"

#include <optional>
#include <string>

inline memguard::iptc::SetNames fake_sets() {
    return {
        [](const std::string& name) -> std::optional<std::uint16_t> {
            if (name == "memguard4") {
                return 1;
            }
            if (name == "memguard6") {
                return 2;
            }
            return std::nullopt;
        },
        [](std::uint16_t index) -> std::optional<std::string> {
            switch (index) {
            case 1:
                return "memguard4";
            case 2:
                return "memguard6";
            case 0xFFFF:
                return std::nullopt;
            default:
                return "foreign";
            }
        },
    };
}
