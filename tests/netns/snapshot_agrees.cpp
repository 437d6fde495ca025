// Reads each family's filter table twice, through libiptc (what commits rest on) and through
// the lock-free snapshot (what verify passes look at), and fails unless both decode to the
// same INPUT chain and MEMGUARD chain, rule by rule, counters and target names included.
// Run by the netns tests on their own tables while nothing sends packets.
#include "legacy/iptc/snapshot.hpp"
#include "legacy/iptc/table.hpp"
#include "legacy/legacy_backend.hpp"
#include "legacy/rule.hpp"
#include "legacy/tables.hpp"

#include <cstdio>
#include <exception>
#include <string>

namespace {

void print(const char* label, const std::vector<memguard::KernelRule>& rules) {
    for (const auto& k : rules) {
        std::fprintf(
            stderr, "  %s: target '%s' comment '%s' %s [%llu:%llu]\n", label, k.target.c_str(),
            k.comment.c_str(), k.rule ? memguard::to_string(*k.rule).c_str() : "(not ours)",
            static_cast<unsigned long long>(k.packets), static_cast<unsigned long long>(k.bytes));
    }
}

} // namespace

int main() {
    int status = 0;
    try {
        for (const auto family : memguard::both_families) {
            const auto by_libiptc = memguard::iptc::Table::open(family).read();
            const auto by_snapshot = memguard::iptc::read_snapshot(family);
            const auto name = std::string(memguard::to_string(family));
            if (by_libiptc == by_snapshot) {
                std::printf("%s: agree (%zu INPUT rules, %zu MEMGUARD rules)\n", name.c_str(),
                            by_snapshot.input.size(), by_snapshot.chain.size());
                continue;
            }
            status = 1;
            std::fprintf(stderr, "%s: the snapshot and libiptc disagree\n", name.c_str());
            print("libiptc INPUT", by_libiptc.input);
            print("snapshot INPUT", by_snapshot.input);
            print("libiptc MEMGUARD", by_libiptc.chain);
            print("snapshot MEMGUARD", by_snapshot.chain);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "snapshot_agrees: %s\n", e.what());
        return 2;
    }
    return status;
}
