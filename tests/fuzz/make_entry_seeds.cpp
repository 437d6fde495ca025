// make_entry_seeds DIR [--record]: writes one seed file per rule the ruleset can produce:
// family byte, target byte, entry. With --record also every entry of this network namespace's
// legacy nat, filter and mangle tables as the kernel holds them (Docker's DNAT rules, ...),
// as DIR/recorded-<family>-<table>-<n>.
#include "legacy/iptc/entry.hpp"
#include "legacy/iptc/foreign_rules.hpp"
#include "legacy/iptc/table.hpp"
#include "legacy/ruleset.hpp"

#include <cstdio>
#include <fstream>
#include <optional>
#include <span>
#include <string>

namespace {

void write_seed(const std::string& path, memguard::Family family, std::uint8_t target,
                std::span<const std::uint8_t> entry) {
    std::ofstream out(path, std::ios::binary);
    out.put(static_cast<char>(family == memguard::Family::ipv6 ? 1 : 0));
    out.put(static_cast<char>(target));
    out.write(reinterpret_cast<const char*>(entry.data()),
              static_cast<std::streamsize>(entry.size()));
}

int record(const std::string& dir) {
    int n = 0;
    for (const auto family : {memguard::Family::ipv4, memguard::Family::ipv6}) {
        for (const char* table : {"nat", "filter", "mangle"}) {
            if (!memguard::iptc::legacy_table_exists(family, table)) {
                continue;
            }
            const std::string prefix =
                dir + "/recorded-" + std::string(memguard::to_string(family)) + "-" + table + "-";
            int i = 0;
            memguard::iptc::Table::open(family, table)
                .for_each_entry([&](const std::string&, std::span<const std::uint8_t> entry) {
                    write_seed(prefix + std::to_string(++i), family, 6, entry); // target ""
                });
            n += i;
        }
    }
    return n;
}

} // namespace

int main(int argc, char** argv) {
    const bool recording = argc == 3 && std::string(argv[2]) == "--record";
    if (argc != 2 && !recording) {
        std::fputs("usage: make_entry_seeds DIR [--record]\n", stderr);
        return 2;
    }
    memguard::Policy policy;
    policy.guards.front().allow = {*memguard::parse_network("192.168.1.0/24"),
                                   *memguard::parse_network("fd12:3456::/48")};
    policy.log_blocked = true;
    // A second policy whose lists go into sets, named with fuzz_entry's indexes (1 and 2).
    memguard::Policy with_sets = policy;
    for (int i = 0; i <= static_cast<int>(memguard::set_threshold); ++i) {
        with_sets.guards.front().allow.push_back(
            *memguard::parse_network("10.0." + std::to_string(i) + ".0/24"));
        with_sets.guards.front().allow.push_back(
            *memguard::parse_network("fd00:" + std::to_string(i + 1) + "::/64"));
    }
    const memguard::iptc::SetNames sets{
        [](const std::string& name) -> std::optional<std::uint16_t> {
            return name == "memguard4" ? 1 : 2;
        },
        {}};
    int n = 0;
    for (const auto action : {memguard::Action::drop, memguard::Action::reject}) {
        policy.action = action;
        for (const auto family : {memguard::Family::ipv4, memguard::Family::ipv6}) {
            const auto set = memguard::build_ruleset(policy, family);
            auto rules = set.jumps;
            rules.insert(rules.end(), set.chain.begin(), set.chain.end());
            if (action == memguard::Action::drop) { // the set rule, once per family
                for (const auto& rule : memguard::build_ruleset(with_sets, family).chain) {
                    if (!rule.src_set.empty()) {
                        rules.push_back(rule);
                    }
                }
            }
            for (const auto& rule : rules) {
                const auto entry = memguard::iptc::encode_entry(rule, sets);
                const std::uint8_t target = rule.verdict == memguard::Verdict::accept          ? 0
                                            : rule.verdict == memguard::Verdict::drop          ? 1
                                            : rule.verdict == memguard::Verdict::jump_memguard ? 2
                                            : rule.verdict == memguard::Verdict::reject        ? 3
                                                                                               : 4;
                write_seed(std::string(argv[1]) + "/seed-" + std::to_string(n++), family, target,
                           entry.bytes());
            }
        }
    }
    if (recording) {
        n += record(argv[1]);
    }
    std::printf("%d seeds\n", n);
    return 0;
}
