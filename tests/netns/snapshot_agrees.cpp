// Reads each family's filter table twice, through libiptc (what commits rest on) and through
// the lock-free snapshot (what verify passes look at), and fails unless both decode to the
// same INPUT chain and MEMGUARD chain (and mangle's FORWARD, PREROUTING and MEMGUARD), rule by
// rule, counters and target names included.
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
            auto by_libiptc = memguard::iptc::Table::open(family).read();
            by_libiptc.mangle = memguard::iptc::Table::open(family, "mangle").read_mangle();
            const auto by_snapshot = memguard::iptc::read_snapshot(family);
            const auto name = std::string(memguard::to_string(family));
            if (by_libiptc == by_snapshot) {
                std::printf("%s: agree (%zu INPUT rules, %zu MEMGUARD rules, %zu mangle rules)\n",
                            name.c_str(), by_snapshot.input.size(), by_snapshot.chain.size(),
                            by_snapshot.mangle ? by_snapshot.mangle->forward.size() +
                                                     by_snapshot.mangle->prerouting.size() +
                                                     by_snapshot.mangle->chain.size()
                                               : 0);
                continue;
            }
            status = 1;
            std::fprintf(stderr, "%s: the snapshot and libiptc disagree\n", name.c_str());
            print("libiptc INPUT", by_libiptc.input);
            print("snapshot INPUT", by_snapshot.input);
            print("libiptc MEMGUARD", by_libiptc.chain);
            print("snapshot MEMGUARD", by_snapshot.chain);
            if (by_snapshot.mangle) {
                print("libiptc mangle FORWARD", by_libiptc.mangle->forward);
                print("snapshot mangle FORWARD", by_snapshot.mangle->forward);
                print("libiptc mangle PREROUTING", by_libiptc.mangle->prerouting);
                print("snapshot mangle PREROUTING", by_snapshot.mangle->prerouting);
                print("libiptc mangle MEMGUARD", by_libiptc.mangle->chain);
                print("snapshot mangle MEMGUARD", by_snapshot.mangle->chain);
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "snapshot_agrees: %s\n", e.what());
        return 2;
    }
    return status;
}
