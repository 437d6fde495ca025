// Writes the kernel's current filter tables (both families) as seeds for fuzz_snapshot:
// family byte, INPUT's first and policy offsets, entries. Run it in a namespace holding
// memguardd's rules and some foreign ones (tests/fuzz/corpus/snapshot was made that way).
#include "legacy/iptc/snapshot.hpp"
#include "legacy/legacy_backend.hpp"

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fputs("usage: make_snapshot_seeds DIR PREFIX\n", stderr);
        return 2;
    }
    for (const auto family : memguard::both_families) {
        const auto raw = memguard::iptc::read_raw(family);
        std::ofstream out(std::string(argv[1]) + "/" + argv[2] + "-" +
                              std::string(memguard::to_string(family)),
                          std::ios::binary);
        out.put(static_cast<char>(family == memguard::Family::ipv6 ? 1 : 0));
        out.write(reinterpret_cast<const char*>(&raw.input.first), 4);
        out.write(reinterpret_cast<const char*>(&raw.input.policy), 4);
        const auto entries = raw.entries();
        out.write(reinterpret_cast<const char*>(entries.data()),
                  static_cast<std::streamsize>(entries.size()));
    }
    return 0;
}
