// Writes one seed file per rule the ruleset can produce: family byte, target byte, entry.
#include "iptc/entry.hpp"
#include "ruleset.hpp"

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fputs("usage: make_entry_seeds DIR\n", stderr);
        return 2;
    }
    memguard::Policy policy;
    policy.allow = {*memguard::parse_network("192.168.1.0/24"),
                    *memguard::parse_network("fd12:3456::/48")};
    policy.log_blocked = true;
    int n = 0;
    for (const auto action : {memguard::Action::drop, memguard::Action::reject}) {
        policy.action = action;
        for (const auto family : {memguard::Family::ipv4, memguard::Family::ipv6}) {
            const auto set = memguard::build_ruleset(policy, family);
            auto rules = set.jumps;
            rules.insert(rules.end(), set.chain.begin(), set.chain.end());
            for (const auto& rule : rules) {
                const auto entry = memguard::iptc::encode_entry(rule);
                const std::uint8_t target = rule.verdict == memguard::Verdict::accept ? 0
                                            : rule.verdict == memguard::Verdict::drop ? 1
                                            : rule.verdict == memguard::Verdict::jump_memguard ? 2
                                            : rule.verdict == memguard::Verdict::reject ? 3
                                                                                         : 4;
                std::ofstream out(std::string(argv[1]) + "/seed-" + std::to_string(n++),
                                  std::ios::binary);
                out.put(static_cast<char>(family == memguard::Family::ipv6 ? 1 : 0));
                out.put(static_cast<char>(target));
                out.write(reinterpret_cast<const char*>(entry.data()),
                          static_cast<std::streamsize>(entry.size()));
            }
        }
    }
    std::printf("%d seeds\n", n);
    return 0;
}
