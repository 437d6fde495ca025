// memguard_nft_bench [N...]: the cost of applying N allowed networks from an empty ruleset, our
// batch against `nft -f` of the same ruleset, side by side, each the median of 7 runs in a
// network namespace of its own (needs root and nft). Not a test: prints milliseconds.
#include "keeper.hpp"

#include <sched.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRuns = 7;

std::string address(std::size_t i) {
    const std::size_t a = i * 2; // every other address: no two merge
    return "10." + std::to_string((a >> 16) & 0xFF) + "." + std::to_string((a >> 8) & 0xFF) + "." +
           std::to_string(a & 0xFF);
}

memguard::Desired desired(std::size_t n) {
    memguard::GuardSpec g;
    g.reverse_path.clear();
    for (std::size_t i = 0; i < n; ++i) {
        g.allow.push_back(*memguard::parse_network(address(i)));
    }
    g.allow.push_back(*memguard::parse_network("fd00:1::/64"));
    memguard::Policy policy;
    policy.guards = {g};
    return memguard::desired_state(policy);
}

std::string guard(int f, const char* saddr) {
    const std::string n = std::to_string(f);
    return "  chain guard" + n +
           " {\n    comment \"memguard\"\n"
           "    iifname \"lo\" accept comment \"memguard\"\n"
           "    ct state established,related accept comment \"memguard\"\n"
           "    meta nfproto ipv" +
           n + " " + saddr + " saddr @allow" + n +
           " accept comment \"memguard\"\n"
           "    meta l4proto tcp counter drop comment \"memguard\"\n"
           "    counter drop comment \"memguard\"\n  }\n";
}

// The same table in nft's language.
void write_ruleset(std::size_t n, const std::string& path) {
    std::ofstream out(path);
    out << "table inet memguard {\n  comment \"memguardd\"\n"
        << "  set allow4 { type ipv4_addr; flags interval; comment \"memguard\"; elements = { ";
    for (std::size_t i = 0; i < n; ++i) {
        out << (i == 0 ? "" : ", ") << address(i);
    }
    out << " } }\n  set allow6 { type ipv6_addr; flags interval; comment \"memguard\"; "
        << "elements = { fd00:1::/64 } }\n  chain input {\n    comment \"memguard\"\n"
        << "    type filter hook input priority -10; policy accept;\n";
    for (const char* f : {"4", "6"}) {
        for (const char* p : {"tcp", "udp"}) {
            out << "    meta nfproto ipv" << f << " " << p << " dport 11211 jump guard" << f
                << " comment \"memguard\"\n";
        }
    }
    out << "  }\n" << guard(4, "ip") << guard(6, "ip6") << "}\n";
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void fresh_netns() {
    if (unshare(CLONE_NEWNET) != 0) {
        std::perror("unshare");
        std::exit(77);
    }
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::size_t> sizes;
    for (int i = 1; i < argc; ++i) {
        sizes.push_back(std::stoul(argv[i]));
    }
    if (sizes.empty()) {
        sizes = {100, 10000};
    }
    for (const std::size_t n : sizes) {
        const std::string path = "/tmp/memguard-nft-bench-" + std::to_string(n) + ".nft";
        write_ruleset(n, path);
        const memguard::Desired want = desired(n);
        std::vector<double> ours;
        std::vector<double> nft;
        std::vector<double> verify_dump;
        std::vector<double> verify_gen;
        for (int run = 0; run < kRuns; ++run) {
            fresh_netns();
            memguard::nft::Keeper keeper;
            auto start = Clock::now();
            const auto result = keeper.reconcile(want, false);
            ours.push_back(ms_since(start));
            if (!result.committed || !result.error.empty()) {
                std::fprintf(stderr, "apply failed: %s\n", result.error.c_str());
                return 1;
            }
            start = Clock::now();
            (void)keeper.reconcile(want, true); // dumps once: our commit moved the generation
            verify_dump.push_back(ms_since(start));
            start = Clock::now();
            (void)keeper.reconcile(want, true); // nothing moved: one GETGEN
            verify_gen.push_back(ms_since(start));
            fresh_netns();
            start = Clock::now();
            if (std::system(("nft -f " + path).c_str()) != 0) {
                return 1;
            }
            nft.push_back(ms_since(start));
        }
        std::printf("%zu networks: memguard %.1f ms, nft -f %.1f ms (median of %d), ratio %.2f\n",
                    n, median(ours), median(nft), kRuns, median(ours) / median(nft));
        std::printf("%zu networks: verify with a dump %.2f ms, verify with nothing moved %.3f ms\n",
                    n, median(verify_dump), median(verify_gen));
        std::remove(path.c_str());
    }
    return 0;
}
