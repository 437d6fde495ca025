// Soak driver: memguardd's verify-and-repair pass (Guard::reconcile, what the daemon's timer
// calls) run thousands of times in one process, with drift injected every Nth pass so that each
// commit path runs over and over: chain created, chain rewritten, jumps moved, chain removed.
// It checks that every pass does exactly what it should (a commit in the families that drifted,
// nothing otherwise) and that the process does not grow: VmRSS at the end must not exceed
// VmRSS after pass 100 by more than a margin. run.sh also runs it under valgrind.
//
// It edits the legacy filter table of whatever network namespace it runs in, so it refuses to
// run unless run.sh started it in a namespace of its own (SOAK_OUTER_NETNS names the caller's).
//
// Usage: soak_driver --config FILE --alt-config FILE [--passes N] [--drift-every N]
//                    [--rss-margin-kib N | --no-rss-check]
// Exit: 0 all good, 1 a check failed, 2 usage or environment error.
#include "config.hpp"
#include "legacy/legacy_backend.hpp"

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace {

using memguard::Family;

struct Options {
    std::string config;
    std::string alt_config;
    long passes = 20000;
    long drift_every = 50;
    long rss_margin_kib = 512;
    bool rss_check = true;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "soak_driver: %s\nusage: soak_driver --config FILE --alt-config FILE "
                 "[--passes N] [--drift-every N] [--rss-margin-kib N | --no-rss-check]\n",
                 why);
    std::exit(2);
}

long number(const char* text) {
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || n < 1 || n > 100000000) {
        usage("not a positive number");
    }
    return n;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                usage(("missing value for " + a).c_str());
            }
            return argv[++i];
        };
        if (a == "--config") {
            o.config = value();
        } else if (a == "--alt-config") {
            o.alt_config = value();
        } else if (a == "--passes") {
            o.passes = number(value());
        } else if (a == "--drift-every") {
            o.drift_every = number(value());
        } else if (a == "--rss-margin-kib") {
            o.rss_margin_kib = number(value());
        } else if (a == "--no-rss-check") {
            o.rss_check = false;
        } else {
            usage(("unknown argument " + a).c_str());
        }
    }
    if (o.config.empty() || o.alt_config.empty()) {
        usage("--config and --alt-config are required");
    }
    return o;
}

std::string netns_of(const char* path) {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink(path, buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Refuses to touch netfilter unless this is demonstrably a network namespace of its own.
void require_private_netns() {
    const std::string here = netns_of("/proc/self/ns/net");
    const char* outer = std::getenv("SOAK_OUTER_NETNS");
    if (here.empty() || outer == nullptr || *outer == '\0' || here == outer ||
        here == netns_of("/proc/1/ns/net")) {
        std::fprintf(stderr,
                     "soak_driver: refusing to run outside a private network namespace "
                     "(here %s, caller's %s); start it through run.sh\n",
                     here.c_str(), outer != nullptr ? outer : "(unset)");
        std::exit(2);
    }
}

struct Memory {
    long rss_kib = -1;
    long anon_kib = -1;
};

Memory memory() {
    Memory m;
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) { // "VmRSS:\t    5120 kB"
        long* field = line.starts_with("VmRSS:")     ? &m.rss_kib
                      : line.starts_with("RssAnon:") ? &m.anon_kib
                                                     : nullptr;
        if (field != nullptr) {
            *field = std::strtol(line.c_str() + line.find(':') + 1, nullptr, 10);
        }
    }
    return m;
}

// Test code may exec; product code never does. Runs an iptables-legacy command and waits.
bool run_tool(std::vector<std::string> args) {
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("soak_driver: fork");
        return false;
    }
    if (pid == 0) {
        ::execvp(argv[0], argv.data());
        std::_Exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            std::perror("soak_driver: waitpid");
            return false;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string line;
        for (const auto& a : args) {
            line += (line.empty() ? "" : " ") + a;
        }
        std::fprintf(stderr, "soak_driver: `%s` failed (status %d)\n", line.c_str(), status);
        return false;
    }
    return true;
}

constexpr unsigned v4 = 1;
constexpr unsigned v6 = 2;

unsigned committed(const memguard::Report& r) {
    unsigned mask = 0;
    for (const auto& f : r.families) {
        if (f.committed) {
            mask |= f.family == Family::ipv4 ? v4 : v6;
        }
    }
    return mask;
}

unsigned drifted(const memguard::Report& r) {
    unsigned mask = 0;
    for (const auto& f : r.families) {
        if (!f.drift.empty()) {
            mask |= f.family == Family::ipv4 ? v4 : v6;
        }
    }
    return mask;
}

const char* families(unsigned mask) {
    static const char* const names[] = {"none", "ipv4", "ipv6", "ipv4+ipv6"};
    return names[mask & 3];
}

// One kind of drift: what it does to the table, which families the next pass must repair, and
// what to do after that repair (a foreign rule the test put in and now takes out again).
struct DriftKind {
    const char* name;
    unsigned expect;
};

const DriftKind kinds[] = {
    {"memguardd remove (Guard::remove: jumps and chain deleted)", v4 | v6},
    {"other policy applied (ports, allowlist, NFLOG, reject)", v4 | v6},
    {"iptables -F MEMGUARD, both families", v4 | v6},
    {"iptables -D INPUT 1 (our tcp jump), ipv4", v4},
    {"ip6tables -I INPUT 1 ACCEPT the port (shadows our jumps), ipv6", v6},
    {"iptables -R MEMGUARD 3, ip6tables -I MEMGUARD 1", v4 | v6},
};
constexpr std::size_t kind_count = sizeof kinds / sizeof kinds[0];

class Soak {
public:
    Soak(memguard::Backend& guard, memguard::Policy policy, memguard::Policy alt)
        : guard_(guard), policy_(std::move(policy)), alt_(std::move(alt)) {}

    // Injects drift of kind k; returns false if the injection itself failed.
    bool inject(std::size_t k) {
        switch (k) {
        case 0: {
            const auto r = guard_.remove();
            return check(committed(r) == (v4 | v6), "remove commits both families", r);
        }
        case 1: {
            const auto r =
                guard_.reconcile(memguard::desired_state(alt_), memguard::PassKind::verify);
            return check(committed(r) == (v4 | v6), "the other policy commits both families", r);
        }
        case 2:
            return run_tool({"iptables-legacy", "-w", "-F", "MEMGUARD"}) &&
                   run_tool({"ip6tables-legacy", "-w", "-F", "MEMGUARD"});
        case 3:
            return run_tool({"iptables-legacy", "-w", "-D", "INPUT", "1"});
        case 4:
            return run_tool({"ip6tables-legacy", "-w", "-I", "INPUT", "1", "-p", "tcp", "--dport",
                             "11211", "-j", "ACCEPT"});
        case 5:
            return run_tool({"iptables-legacy", "-w", "-R", "MEMGUARD", "3", "-j", "ACCEPT"}) &&
                   run_tool({"ip6tables-legacy", "-w", "-I", "MEMGUARD", "1", "-j", "ACCEPT"});
        default:
            return false;
        }
    }

    // After the repair of kind k: take out what the test added that is not drift any more.
    static bool after_repair(std::size_t k) {
        if (k == 4) {
            return run_tool({"ip6tables-legacy", "-w", "-D", "INPUT", "-p", "tcp", "--dport",
                             "11211", "-j", "ACCEPT"});
        }
        return true;
    }

    // One verify pass; `expect` is the set of families that must be repaired by it.
    bool pass(unsigned expect) {
        const auto r =
            guard_.reconcile(memguard::desired_state(policy_), memguard::PassKind::verify);
        ++passes_;
        commits_[0] += (committed(r) & v4) != 0 ? 1 : 0;
        commits_[1] += (committed(r) & v6) != 0 ? 1 : 0;
        return check(committed(r) == expect && drifted(r) == expect,
                     expect == 0 ? "a pass without drift changes nothing"
                                 : "the pass after drift repairs exactly the drifted families",
                     r, expect);
    }

    [[nodiscard]] long failures() const { return failures_; }
    [[nodiscard]] long commits(Family f) const { return commits_[f == Family::ipv4 ? 0 : 1]; }

private:
    bool check(bool ok, const char* what, const memguard::Report& r,
               std::optional<unsigned> expect = std::nullopt) {
        if (ok) {
            return true;
        }
        ++failures_;
        if (failures_ <= 10) {
            std::printf("soak: FAILED after %ld passes: %s", passes_, what);
            if (expect) {
                std::printf(" (expected repairs in %s, got commits in %s, drift in %s)",
                            families(*expect), families(committed(r)), families(drifted(r)));
            }
            std::printf("\n");
            for (const auto& f : r.families) {
                for (const auto& d : f.drift) {
                    std::printf("soak:   %s\n", d.describe().c_str());
                }
            }
        }
        return false;
    }

    memguard::Backend& guard_;
    memguard::Policy policy_;
    memguard::Policy alt_;
    long passes_ = 0;
    long commits_[2] = {0, 0};
    long failures_ = 0;
};

void print_memory(const char* when, long pass, const Memory& m) {
    std::printf("soak: %s %ld: VmRSS %ld KiB, RssAnon %ld KiB\n", when, pass, m.rss_kib,
                m.anon_kib);
    std::fflush(stdout);
}

int soak(const Options& o) {
    const memguard::Policy policy = memguard::load_config(o.config);
    const memguard::Policy alt = memguard::load_config(o.alt_config);
    if (policy == alt) {
        usage("--config and --alt-config must differ");
    }
    auto backend = memguard::make_legacy_backend();
    memguard::Backend& guard = *backend;
    Soak s(guard, policy, alt);

    // Warm-up: the first apply, then every kind of drift once, so that every code path (and
    // its share of libc and libiptc) has run before the first measurement.
    {
        const auto first =
            guard.reconcile(memguard::desired_state(policy), memguard::PassKind::verify);
        std::printf("soak: first apply committed in %s\n", families(committed(first)));
    }
    for (std::size_t k = 0; k < kind_count; ++k) {
        if (!s.inject(k) || !s.pass(kinds[k].expect) || !Soak::after_repair(k)) {
            std::printf("soak: warm-up with drift kind %zu (%s) failed\n", k, kinds[k].name);
            return 1;
        }
    }
    std::printf("soak: warm-up done: %zu kinds of drift injected and repaired\n", kind_count);

    Memory at_100;
    Memory last;
    long injections = 0;
    std::vector<long> per_kind(kind_count, 0);
    unsigned expect = 0;
    std::optional<std::size_t> pending; // kind whose after_repair step is due after this pass
    for (long p = 1; p <= o.passes; ++p) {
        if (!s.pass(expect) && s.failures() > 50) {
            std::printf("soak: too many failures, stopping\n");
            return 1;
        }
        expect = 0;
        if (pending) {
            if (!Soak::after_repair(*pending)) {
                return 1;
            }
            pending.reset();
        }
        if (p == 1 || p == 100 || p == 1000 || p % 5000 == 0 || p == o.passes) {
            last = memory();
            print_memory("after pass", p, last);
            if (p == 100) {
                at_100 = last;
            }
        }
        if (p % o.drift_every == 0 && p != o.passes) {
            const auto k = static_cast<std::size_t>(injections) % kind_count;
            ++injections;
            ++per_kind[k];
            if (!s.inject(k)) {
                return 1;
            }
            expect = kinds[k].expect;
            pending = k;
        }
    }

    std::printf("soak: %ld passes, %ld drift injections every %ld passes; by kind:\n", o.passes,
                injections, o.drift_every);
    for (std::size_t k = 0; k < kind_count; ++k) {
        std::printf("soak:   %5ld x %s\n", per_kind[k], kinds[k].name);
    }
    std::printf("soak: commits (warm-up included): ipv4 %ld, ipv6 %ld; pass checks failed: %ld\n",
                s.commits(Family::ipv4), s.commits(Family::ipv6), s.failures());
    int rc = s.failures() == 0 ? 0 : 1;
    if (o.rss_check) {
        if (at_100.rss_kib < 0 || last.rss_kib < 0) {
            std::printf("soak: FAILED: need at least 100 passes and /proc/self/status VmRSS\n");
            return 1;
        }
        const long limit = at_100.rss_kib + o.rss_margin_kib;
        const bool ok = last.rss_kib <= limit;
        std::printf("soak: VmRSS after pass 100 %ld KiB, at the end (pass %ld) %ld KiB "
                    "(%+ld KiB; RssAnon %+ld KiB); limit %ld + %ld = %ld KiB: %s\n",
                    at_100.rss_kib, o.passes, last.rss_kib, last.rss_kib - at_100.rss_kib,
                    last.anon_kib - at_100.anon_kib, at_100.rss_kib, o.rss_margin_kib, limit,
                    ok ? "ok" : "GREW");
        if (!ok) {
            rc = 1;
        }
    }
    return rc;
}

} // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    require_private_netns();
    try {
        return soak(o);
    } catch (const memguard::ConfigError& e) {
        for (const auto& p : e.problems()) {
            std::fprintf(stderr, "soak_driver: %s\n", p.c_str());
        }
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "soak_driver: %s\n", e.what());
        return 1;
    }
}
