// Drives the legacy backend with a desired state of two guards, straight through the library
// (the daemon's config parser for guards is written in parallel), for guards_backend.sh:
//   guards_driver apply [--set]   reconcile; --set gives guard "pages" 20 more networks (its set)
//   guards_driver compare [--set] prints the drift count (0: in sync)
//   guards_driver blocked         prints "ipv4 tcp PACKETS BYTES" per family and protocol
//   guards_driver remove
// Guard "app-cache": 11211 tcp+udp, 10.77.1.0/24 (labelled "peer a") and fd77:1::/64;
// guard "pages": 11212 tcp, 10.77.2.0/24 and fd77:2::/64.
#include "desired.hpp"
#include "legacy/legacy_backend.hpp"

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

namespace {

using memguard::Network;
using memguard::Protocol;

Network net(const char* text) {
    const auto n = memguard::parse_network(text);
    if (!n) {
        throw std::runtime_error(std::string("bad network ") + text);
    }
    return *n;
}

memguard::Desired two_guards(bool with_set) {
    memguard::GuardSpec a;
    a.name = "app-cache";
    a.ports = {11211};
    a.protocols = {Protocol::tcp, Protocol::udp};
    a.reverse_path = {Protocol::udp};
    a.allow = {net("10.77.1.0/24"), net("fd77:1::/64")};
    a.labels.emplace(net("10.77.1.0/24"), "peer a");
    memguard::GuardSpec b;
    b.name = "pages";
    b.ports = {11212};
    b.protocols = {Protocol::tcp};
    b.reverse_path = {};
    b.allow = {net("10.77.2.0/24"), net("fd77:2::/64")};
    if (with_set) {
        for (int i = 0; i < 20; ++i) {
            b.allow.push_back(net(("10.78." + std::to_string(i) + ".0/24").c_str()));
        }
    }
    memguard::Policy p;
    p.guards = {a, b};
    return memguard::desired_state(p);
}

int print(const memguard::Report& report) {
    int status = 0;
    for (const auto& f : report.families) {
        std::printf("%s: %s%s\n", std::string(memguard::to_string(f.family)).c_str(),
                    f.actions.empty() ? "unchanged" : f.actions.c_str(),
                    f.error.empty() ? "" : (" ERROR " + f.error).c_str());
        for (const auto& d : f.drift) {
            std::printf("  drift: %s\n", d.text.c_str());
        }
        status = f.error.empty() ? status : 1;
    }
    return status;
}

} // namespace

int main(int argc, char** argv) {
    const std::string_view what = argc > 1 ? argv[1] : "";
    const bool with_set = argc > 2 && std::string_view(argv[2]) == "--set";
    try {
        const auto backend = memguard::make_legacy_backend();
        if (what == "apply") {
            return print(backend->reconcile(two_guards(with_set), memguard::PassKind::apply));
        }
        if (what == "compare") {
            const auto report = backend->compare(two_guards(with_set));
            std::printf("%zu\n", report.drift_count());
            return print(report) == 0 ? 0 : 1;
        }
        if (what == "blocked") {
            for (const auto& b : backend->blocked()) {
                std::printf("%s %s %llu %llu\n", std::string(memguard::to_string(b.family)).c_str(),
                            std::string(memguard::to_string(b.protocol)).c_str(),
                            static_cast<unsigned long long>(b.packets),
                            static_cast<unsigned long long>(b.bytes));
            }
            return 0;
        }
        if (what == "remove") {
            return print(backend->remove());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "guards_driver: %s\n", e.what());
        return 2;
    }
    std::fprintf(stderr, "usage: guards_driver apply|compare|blocked|remove [--set]\n");
    return 2;
}
