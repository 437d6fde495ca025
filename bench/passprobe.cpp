// passprobe: times one memguardd verify pass in-process (no process start, no config parse),
// and splits a pass and an apply into their phases, to show where the time goes.
// Built by bench/run.sh against build-bench/libfw/libmemguard_fw.a; runs inside the
// benchmark's own network namespace only.
//
//   passprobe verify CONFIG ITERS   -> per-pass wall and CPU time of Guard::reconcile (in sync),
//                                      plus phases: lock, iptc_init, read/decode, compare,
//                                      and the bare kernel copy (raw IPT_SO_GET_ENTRIES)
//   passprobe apply  CONFIG ITERS   -> phases of an apply from an empty MEMGUARD state:
//                                      init, read, compare, plan into snapshot, iptc_commit
// Output: one line per metric: "<name> <median_us> <p10_us> <p90_us>".
#include "config.hpp"
#include "legacy/allowset.hpp"
#include "legacy/iptc/entry.hpp"
#include "legacy/iptc/lock.hpp"
#include "legacy/iptc/snapshot.hpp"
#include "legacy/iptc/table.hpp"
#include "legacy/legacy_backend.hpp"
#include "legacy/ruleset.hpp"

#include <netinet/in.h> // before the kernel headers, as libiptc's own headers do
#include <sys/socket.h>

#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <vector>

using namespace memguard;

namespace {

double now_us(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct Samples {
    std::map<std::string, std::vector<double>> by_name;
    std::vector<std::string> order;
    void add(const std::string& name, double us) {
        if (!by_name.contains(name)) {
            order.push_back(name);
        }
        by_name[name].push_back(us);
    }
    void print() {
        for (const auto& name : order) {
            auto v = by_name[name];
            std::sort(v.begin(), v.end());
            auto at = [&](double q) {
                return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
            };
            std::printf("%s %.1f %.1f %.1f\n", name.c_str(), at(0.5), at(0.1), at(0.9));
        }
    }
};

// The floor of any reader of the legacy table: IPT_SO_GET_INFO + IPT_SO_GET_ENTRIES on a raw
// socket, i.e. the kernel copying the whole filter table (and its counters) out, and nothing
// else: no libiptc parsing, no decoding.
template <class Info, class Entries>
bool raw_get_entries(int domain, int level, int get_info, int get_entries) {
    const int fd = ::socket(domain, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
        return false;
    }
    Info info{};
    std::snprintf(info.name, sizeof info.name, "filter");
    socklen_t len = sizeof info;
    bool ok = ::getsockopt(fd, level, get_info, &info, &len) == 0;
    if (ok) {
        std::vector<unsigned char> buf(sizeof(Entries) + info.size);
        auto* e = reinterpret_cast<Entries*>(buf.data());
        std::snprintf(e->name, sizeof e->name, "filter");
        e->size = info.size;
        len = static_cast<socklen_t>(buf.size());
        ok = ::getsockopt(fd, level, get_entries, e, &len) == 0;
    }
    ::close(fd);
    return ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: passprobe verify|apply CONFIG ITERS\n");
        return 2;
    }
    const std::string mode = argv[1];
    const Policy policy = load_config(argv[2]);
    const int iters = std::atoi(argv[3]);
    auto backend = make_legacy_backend();
    Backend& guard = *backend;
    const Desired desired = desired_state(policy);
    Samples s;

    if (mode == "verify") {
        for (int i = 0; i < iters + 3; ++i) {
            const double w0 = now_us(CLOCK_MONOTONIC), c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
            const Report r = guard.reconcile(desired, PassKind::verify);
            const double w1 = now_us(CLOCK_MONOTONIC), c1 = now_us(CLOCK_PROCESS_CPUTIME_ID);
            if (r.drift_count() != 0 || r.changed()) {
                std::fprintf(stderr, "passprobe: the kernel is not in sync with the config\n");
                return 1;
            }
            if (i < 3) {
                continue; // warm-up
            }
            s.add("pass_wall", w1 - w0);
            s.add("pass_cpu", c1 - c0);
            {
                const double t0 = now_us(CLOCK_MONOTONIC);
                const bool ok4 = raw_get_entries<ipt_getinfo, ipt_get_entries>(
                    AF_INET, IPPROTO_IP, IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES);
                const double t1 = now_us(CLOCK_MONOTONIC);
                const bool ok6 = raw_get_entries<ip6t_getinfo, ip6t_get_entries>(
                    AF_INET6, IPPROTO_IPV6, IP6T_SO_GET_INFO, IP6T_SO_GET_ENTRIES);
                const double t2 = now_us(CLOCK_MONOTONIC);
                if (!ok4 || !ok6) {
                    std::perror("passprobe: raw IPT_SO_GET_ENTRIES");
                    return 1;
                }
                s.add("v4_raw_get_entries", t1 - t0);
                s.add("v6_raw_get_entries", t2 - t1);
            }
            for (const auto family : both_families) {
                // The pass's own phases: the lock-free snapshot, and our set when the policy
                // has one (the daemon reads it only then).
                const std::string f = family == Family::ipv4 ? "v4" : "v6";
                const Ruleset want = build_ruleset(policy, family);
                const double s0 = now_us(CLOCK_MONOTONIC);
                const iptc::RawTable raw = iptc::read_raw(family);
                const double s1 = now_us(CLOCK_MONOTONIC);
                KernelView snap = iptc::parse_snapshot(family, raw.entries(), raw.input,
                                                       iptc::kernel_set_names());
                const double s2 = now_us(CLOCK_MONOTONIC);
                for (const auto& [name, members] : want.sets) {
                    if (auto set = read_set(family, name)) {
                        snap.sets.emplace(name, std::move(*set));
                    }
                }
                const double s3 = now_us(CLOCK_MONOTONIC);
                const Comparison snap_cmp = compare(want, snap);
                const double s4 = now_us(CLOCK_MONOTONIC);
                s.add(f + "_snapshot_copy", s1 - s0);
                s.add(f + "_snapshot_walk", s2 - s1);
                s.add(f + "_snapshot_set", s3 - s2);
                s.add(f + "_snapshot_compare", s4 - s3);
                if (!snap_cmp.plan.empty()) {
                    std::fprintf(stderr, "passprobe: the snapshot is not in sync\n");
                    return 1;
                }
                // For comparison, the locked libiptc read a writing pass makes (and every pass
                // made before the snapshot).
                const double t0 = now_us(CLOCK_MONOTONIC);
                auto lock = iptc::XtablesLock::acquire();
                const double t1 = now_us(CLOCK_MONOTONIC);
                auto table = iptc::Table::open(family);
                const double t2 = now_us(CLOCK_MONOTONIC);
                KernelView view = table.read();
                view.sets = snap.sets; // read once above; the comparison needs them
                const double t3 = now_us(CLOCK_MONOTONIC);
                const Comparison cmp = compare(want, view);
                const double t4 = now_us(CLOCK_MONOTONIC);
                s.add(f + "_lock", t1 - t0);
                s.add(f + "_iptc_init", t2 - t1);
                s.add(f + "_read_decode", t3 - t2);
                s.add(f + "_build_compare", t4 - t3);
                if (!cmp.plan.empty()) {
                    return 1;
                }
            }
        }
    } else if (mode == "apply") {
        for (int i = 0; i < iters + 1; ++i) {
            (void)guard.remove(); // back to "no MEMGUARD state"; the foreign rules stay
            double total = 0;
            for (const auto family : both_families) {
                const std::string f = family == Family::ipv4 ? "v4" : "v6";
                const double t0 = now_us(CLOCK_MONOTONIC);
                auto lock = iptc::XtablesLock::acquire();
                auto table = iptc::Table::open(family);
                const double t1 = now_us(CLOCK_MONOTONIC);
                const KernelView view = table.read();
                const double t2 = now_us(CLOCK_MONOTONIC);
                const Comparison cmp = compare(build_ruleset(policy, family), view);
                const double t3 = now_us(CLOCK_MONOTONIC);
                for (const auto& [name, members] : cmp.plan.load_sets) { // before their rules
                    load_set(family, name, members, std::nullopt);
                }
                const double t3s = now_us(CLOCK_MONOTONIC);
                table.apply(cmp.plan);
                const double t4 = now_us(CLOCK_MONOTONIC);
                table.commit();
                const double t5 = now_us(CLOCK_MONOTONIC);
                total += t5 - t0;
                if (i == 0) {
                    continue;
                }
                s.add(f + "_lock_iptc_init", t1 - t0);
                s.add(f + "_read_decode", t2 - t1);
                s.add(f + "_build_compare", t3 - t2);
                s.add(f + "_set_load", t3s - t3);
                s.add(f + "_plan_into_snapshot", t4 - t3s);
                s.add(f + "_iptc_commit", t5 - t4);
            }
            if (i > 0) {
                s.add("apply_total", total);
            }
        }
    } else {
        std::fprintf(stderr, "passprobe: unknown mode %s\n", mode.c_str());
        return 2;
    }
    s.print();
    return 0;
}
