#!/usr/bin/python3
"""Helpers for bench/run.sh (Python 3 standard library only).

  bench.py gen WORK FOREIGN SIZES...   rule files, allowlists and configs into WORK
  bench.py report WORK OUT_DIR         WORK/raw.tsv + WORK/*.txt -> OUT_DIR/results.md,
                                       WORK/plot.gp (run by run.sh through gnuplot)
"""
import json
import os
import statistics
import sys
from collections import defaultdict

PORT = 11211
TAG = "memguard"
CLIENT = "10.77.0.2/32"  # the allowed load client of scenario 4


# ---------------------------------------------------------------------------------- gen
def foreign_rules(n, family, chains=10):
    """A filter table of n rules that belong to somebody else: an SSH accept and a jump to
    each of `chains` user chains in INPUT, the rest `-s x/32 -p tcp --dport P -j ACCEPT`
    spread over the user chains (what docker/kube-proxy-like tools leave behind)."""
    out = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    out += [f":FOREIGN{c} - [0:0]" for c in range(chains)]
    out.append("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT")
    out += [f"-A INPUT -j FOREIGN{c}" for c in range(chains)]
    left = n - 1 - chains
    per = left // chains
    k = 0
    for c in range(chains):
        count = per if c < chains - 1 else left - per * (chains - 1)
        for _ in range(count):
            if family == 4:
                src = f"172.{16 + (k >> 16)}.{(k >> 8) & 255}.{k & 255}/32"
            else:
                src = f"fd00:{c}::{k:x}/128"
            out.append(f"-A FOREIGN{c} -s {src} -p tcp -m tcp --dport {1000 + c} -j ACCEPT")
            k += 1
    out.append("COMMIT")
    return "\n".join(out) + "\n"


def allowlist(n):
    """n distinct IPv4 /32s (10.1.0.0 upwards)."""
    return [f"10.{1 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}/32" for i in range(n)]


SET_THRESHOLD = 16  # libfw/ruleset.hpp: past this many networks a family's list goes in a set


def set_name(family):
    return f"memguard{family}"


def family_nets(nets, family):
    return [net for net in nets if (":" in net) == (family == 6)]


def uses_set(nets, family):
    return len(family_nets(nets, family)) > SET_THRESHOLD


def memguard_rules(nets, family, allow_set=True):
    """The rules memguardd writes for this config, as iptables arguments (without -A/-I). With
    allow_set=False, one -s rule per network whatever the count (memguardd before the set)."""
    c = f"-m comment --comment {TAG}"
    chain = [f"-i lo {c} -j ACCEPT",
             f"-m conntrack --ctstate RELATED,ESTABLISHED {c} -j ACCEPT"]
    if allow_set and uses_set(nets, family):
        chain.append(f"-m set --match-set {set_name(family)} src {c} -j ACCEPT")
    else:
        chain += [f"-s {net} {c} -j ACCEPT" for net in family_nets(nets, family)]
    chain.append(f"{c} -j DROP")
    jumps = [f"-p tcp -m tcp --dport {PORT} {c} -j MEMGUARD",
             f"-p udp -m udp --dport {PORT} {c} -j MEMGUARD"]
    return chain, jumps


def set_create(nets, family):
    """`ipset create` arguments for memguardd's set, sized as libfw/netlink/ipset.cpp sizes it."""
    count = len(family_nets(nets, family))
    hashsize = 1024
    while hashsize < count:
        hashsize *= 2
    inet = "inet" if family == 4 else "inet6"
    return (f"create {set_name(family)} hash:net family {inet} hashsize {hashsize} "
            f"maxelem {max(65536, 2 * count)}")


def set_members(nets, family):
    """Members as `ipset add` takes them: hosts without /32 or /128, like memguardd adds them."""
    full = "/32" if family == 4 else "/128"
    return [net[:-len(full)] if net.endswith(full) else net for net in family_nets(nets, family)]


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def config(nets, interval=1):
    return json.dumps({"ports": [PORT], "protocols": ["tcp", "udp"], "allow": nets,
                       "allow_loopback": True, "accept_established": True,
                       "action": "drop", "verify_interval_s": interval}) + "\n"


def gen(work, foreign, sizes):
    write(f"{work}/foreign4.rules", foreign_rules(foreign, 4))
    write(f"{work}/foreign6.rules", foreign_rules(foreign, 6))
    for n in sorted(set(sizes)):
        nets = allowlist(n)
        write(f"{work}/allow{n}.json", config(nets), 0o600)
        for fam in (4, 6):
            chain, jumps = memguard_rules(nets, fam)
            # the set first, where memguardd uses one: the same lines serve `ipset restore`
            # and, one line per `ipset` call, the per-rule way
            sets = uses_set(nets, fam)
            members = set_members(nets, fam) if sets else []
            write(f"{work}/set{fam}_{n}.ipset",
                  (set_create(nets, fam) + "\n" if sets else "")
                  + "".join(f"add {set_name(fam)} {m}\n" for m in members))
            # iptables-legacy-restore --noflush: the same rules in one transaction per family
            lines = ["*filter", ":MEMGUARD - [0:0]"]
            lines += [f"-A MEMGUARD {r}" for r in chain]
            lines += [f"-I INPUT {i + 1} {r}" for i, r in enumerate(jumps)]
            lines.append("COMMIT")
            write(f"{work}/restore{fam}_{n}.rules", "\n".join(lines) + "\n")
            # one iptables call per rule (read by run.sh, one line = one call): memguardd's
            # rules, and the recipe's own layout, one -s rule per network and no set
            for name, rules in (("perrule", chain),
                                ("recipe", memguard_rules(nets, fam, allow_set=False)[0])):
                calls = ["-N MEMGUARD"] + [f"-A MEMGUARD {r}" for r in rules]
                calls += [f"-I INPUT {i + 1} {r}" for i, r in enumerate(jumps)]
                write(f"{work}/{name}{fam}_{n}.args", "\n".join(calls) + "\n")
    # scenario 4: the allowed client alone, and 9,999 others with the client LAST
    write(f"{work}/pkt_allow1.json", config([CLIENT]), 0o600)
    others = [f"10.{100 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}/32" for i in range(9999)]
    write(f"{work}/pkt_allow10000.json", config(others + [CLIENT]), 0o600)
    # before: memguardd's layout up to the set (commit a0fa138), one -s rule per network,
    # the client's last, written with iptables-legacy-restore
    chain, jumps = memguard_rules(others + [CLIENT], 4, allow_set=False)
    write(f"{work}/pkt_rules10000.rules", "\n".join(
        ["*filter", ":MEMGUARD - [0:0]"] + [f"-A MEMGUARD {r}" for r in chain]
        + [f"-I INPUT {i + 1} {r}" for i, r in enumerate(jumps)] + ["COMMIT"]) + "\n")


# ------------------------------------------------------------------------------- report
def load_raw(work):
    """raw.tsv: scenario, competitor, n, run, value (one measurement per line).
    Returns {(scenario, competitor, n): [values]} and {(scenario, competitor, n): {run: value}}."""
    data = defaultdict(list)
    by_run = defaultdict(dict)
    with open(f"{work}/raw.tsv") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            scen, comp, n, run, value = parts
            data[(scen, comp, n)].append(float(value))
            by_run[(scen, comp, n)][run] = float(value)
    return data, by_run


def paired(by_run, key, base_key):
    """Per-round ratios x/base (same round, so slow changes of the machine's load cancel):
    (median, p25, p75) or None."""
    x, b = by_run.get(key, {}), by_run.get(base_key, {})
    r = sorted(x[k] / b[k] for k in x if k in b and b[k])
    if not r:
        return None
    if len(r) == 1:
        return r[0], r[0], r[0]
    q = statistics.quantiles(r, n=4, method="inclusive")
    return statistics.median(r), q[0], q[2]


def load_probe(work, name, column=1):
    """passprobe output: 'metric median p10 p90' per line -> {metric: median (or p10) µs}."""
    out = {}
    path = f"{work}/{name}"
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 4:
                    out[p[0]] = float(p[column])
    return out


def kv(work, name):
    out = {}
    path = f"{work}/{name}"
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
    return out


def med(data, key):
    v = data.get(key)
    return statistics.median(v) if v else None


def quart(data, key):
    """(p25, p75) of the runs, or None."""
    v = sorted(data.get(key, []))
    if len(v) < 2:
        return None
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], q[2]


def fmt(x, digits=1):
    return "–" if x is None else f"{x:,.{digits}f}"


def ratio(a, b, digits=2):
    return "–" if a is None or b is None or b == 0 else f"{a / b:.{digits}f}×"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def report(work, out_dir):
    data, by_run = load_raw(work)
    env = kv(work, "env.txt")
    idle = kv(work, "idle.txt")
    checks = open(f"{work}/checks.txt").read() if os.path.exists(f"{work}/checks.txt") else ""
    sizes = env.get("SIZES", "1 10 100 1000").split()
    md = []
    w = md.append
    w("# memguardd benchmarks\n")
    w(f"Generated by `bench/run.sh` on {env.get('DATE')} in {env.get('ELAPSED_S', '?')} s. "
      "Medians; every competitor ran alternately with the others (round-robin, the starting "
      "competitor rotated each round).\n")
    w("## Machine\n")
    w("| | |\n|---|---|")
    for k, label in [("NPROC", "`nproc`"), ("CPU", "CPU model"), ("KERNEL", "kernel"),
                     ("OS", "OS"), ("DATE", "date"), ("COMMIT", "memguardd commit"),
                     ("IPTABLES", "iptables"), ("MEMCACHED", "memcached"),
                     ("LOAD_START", "load average at start"),
                     ("LOAD_END", "load average at end"), ("NICE", "benchmark niceness"),
                     ("PARAMS", "parameters")]:
        w(f"| {label} | {env.get(k, '?')} |")
    w("")
    w("The load average shows what else ran on the machine during the benchmark (the "
      "benchmark itself keeps about one core busy). Absolute times are noisy when it is well "
      "above 1; the ratios between alternately-run competitors are the robust numbers.\n")

    # ---------------------------------------------------------------- 1 apply
    foreign = env.get("FOREIGN", "5000")
    w("## 1. Apply: N allowlist entries into a table with "
      f"{int(foreign):,} foreign rules per family\n")
    w("Wall time of putting memguardd's rules in place (IPv4 **and** IPv6, identical final "
      "tables and sets for all three: 2 jumps at the top of INPUT, `MEMGUARD` with lo, "
      "ESTABLISHED, the N IPv4 `/32`s (N ≤ 16: one accept rule each; N > 16: the "
      "`memguard4` ipset holding them, one `-m set` accept rule), drop; IPv6 gets the same "
      "chain without the accepts) from a state without any memguardd rule or set; the "
      "foreign rules are restored identical, and the sets destroyed, before every run "
      "(untimed). Per-rule = one `iptables-legacy -w` / `ip6tables-legacy -w` process per "
      "rule (`-N`, the `-A`s, 2 `-I`, per family), after one `ipset create` and one `ipset "
      "add` per network where there is a set; not run above N=1,000, where it would take "
      "minutes per run. Restore = `ipset restore` of the set where there is one, then "
      "`iptables-legacy-restore -w --noflush` + `ip6tables-legacy-restore -w --noflush` with "
      "the same rules. *Recipe* = the hand-written recipe's own layout, one `iptables-legacy "
      "-w` call per network (`-s` rules, no set), as admins write it; above N=16 its table is "
      "not memguardd's, so it is timed but not checked in sync.\n")
    w("| N | memguardd apply --once (ms) | iptables-legacy-restore (ms) | per-rule iptables (ms) "
      "| recipe: -s rule per call (ms) | memguardd / restore | per-rule / memguardd "
      "| recipe / memguardd | runs (mg/restore/per-rule/recipe) |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in sizes:
        mg = med(data, ("apply", "memguardd", n))
        rs = med(data, ("apply", "restore", n))
        pr = med(data, ("apply", "perrule", n))
        rc = med(data, ("apply", "recipe", n))
        runs = "/".join(str(len(data.get(("apply", c, n), []))) for c in
                        ("memguardd", "restore", "perrule", "recipe"))
        w(f"| {n} | {fmt(mg)} | {fmt(rs)} | {fmt(pr)} | {fmt(rc)} | {ratio(mg, rs)} "
          f"| {ratio(pr, mg, 1)} | {ratio(rc, mg, 1)} | {runs} |")
    w("")
    w("CPU time of the same runs (user+sys of the process(es), from `getrusage`, ms "
      "resolution; less sensitive to other load on the machine than wall time):\n")
    w("| N | memguardd (ms CPU) | restore (ms CPU) | per-rule (ms CPU) | memguardd / restore "
      "| per-rule / memguardd |")
    w("|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        mg = med(data, ("apply_cpu", "memguardd", n))
        rs = med(data, ("apply_cpu", "restore", n))
        pr = med(data, ("apply_cpu", "perrule", n))
        w(f"| {n} | {fmt(mg)} | {fmt(rs)} | {fmt(pr)} | {ratio(mg, rs)} | {ratio(pr, mg, 1)} |")
    w("")
    w("Where an in-process apply spends its time (`bench/passprobe apply`: the same libfw code "
      "as `memguardd apply`, without process start and config parse; 10th percentile of "
      f"{env.get('PROBE_APPLY_ITERS', '?')} applies (5 at N=10,000) in ms — the low percentile is the "
      "intrinsic cost, the median carries other load):\n")
    w("| N | total (both families) | v4 lock + iptc_init | v4 read+decode | v4 compare "
      "| v4 ipset load | v4 plan into snapshot | v4 iptc_commit | v6 lock + iptc_init "
      "| v6 iptc_commit |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        p = load_probe(work, f"probe_apply_{n}.txt", 2)
        g = lambda k: fmt(p.get(k, None) / 1000 if k in p else None, 2)  # noqa: E731
        w(f"| {n} | {g('apply_total')} | {g('v4_lock_iptc_init')} | {g('v4_read_decode')} | "
          f"{g('v4_build_compare')} | {g('v4_set_load')} | {g('v4_plan_into_snapshot')} | "
          f"{g('v4_iptc_commit')} | "
          f"{g('v6_lock_iptc_init')} | {g('v6_iptc_commit')} |")
    w("")
    if checks:
        w("Correctness check (first round, every N, after every competitor): "
          "`memguardd diff` exit status and a hash of `iptables-legacy-save`/"
          "`ip6tables-legacy-save` without counters:\n")
        w("```\n" + checks.strip() + "\n```\n")

    # ---------------------------------------------------------------- 2 verify
    w("## 2. Verify: one pass with nothing to repair\n")
    w("Same tables as in 1 (foreign rules + memguardd's rules in place, in sync). "
      "`memguardd diff` is a whole process (start, config parse, read both families, "
      "compare). The in-daemon pass is `Guard::reconcile` timed in-process by "
      "`bench/passprobe verify` (what the daemon's timer runs: per family, a lock-free "
      "snapshot of the table, walked for INPUT and MEMGUARD, decoded and compared; the lock "
      "and libiptc only when there is something to repair). Baseline: `iptables-legacy-save -t filter` + "
      "`ip6tables-legacy-save -t filter` (memguardd reads both families).\n")
    w("| N | memguardd diff (ms) | in-daemon pass, wall (ms) | in-daemon pass, CPU (ms) "
      "| iptables-legacy-save v4+v6 (ms) | iptables-legacy-save v4 only (ms) "
      "| diff / save | pass / save |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        d = med(data, ("verify", "memguardd_diff", n))
        s = med(data, ("verify", "save_both", n))
        s4 = med(data, ("verify", "save_v4", n))
        p = load_probe(work, f"probe_verify_{n}.txt")
        pw = p.get("pass_wall", None)
        pc = p.get("pass_cpu", None)
        pw = pw / 1000 if pw is not None else None
        pc = pc / 1000 if pc is not None else None
        w(f"| {n} | {fmt(d, 2)} | {fmt(pw, 2)} | {fmt(pc, 2)} | {fmt(s, 2)} | {fmt(s4, 2)} | "
          f"{ratio(d, s)} | {ratio(pw, s)} |")
    w("")
    sm = med(data, ("startup", "memguardd", "0"))
    si = med(data, ("startup", "iptables", "0"))
    smc = med(data, ("startup_cpu", "memguardd", "0"))
    sic = med(data, ("startup_cpu", "iptables", "0"))
    w(f"Process start alone (included in `memguardd diff` and `apply --once`): "
      f"`memguardd --version` {fmt(sm, 2)} ms wall / {fmt(smc)} ms CPU, "
      f"`iptables-legacy --version` {fmt(si, 2)} ms wall / {fmt(sic)} ms CPU.\n")
    w("CPU time (user+sys, ms, `getrusage`; the in-daemon pass from "
      "`CLOCK_PROCESS_CPUTIME_ID`):\n")
    w("| N | memguardd diff | in-daemon pass | iptables-legacy-save v4+v6 | diff / save "
      "| pass / save |")
    w("|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        d = med(data, ("verify_cpu", "memguardd_diff", n))
        sv = med(data, ("verify_cpu", "save_both", n))
        pc = load_probe(work, f"probe_verify_{n}.txt").get("pass_cpu")
        pc = pc / 1000 if pc is not None else None
        w(f"| {n} | {fmt(d)} | {fmt(pc, 2)} | {fmt(sv)} | {ratio(d, sv)} | {ratio(pc, sv)} |")
    w("")
    w("Where an in-daemon pass spends its time (10th percentile of "
      f"{env.get('PROBE_ITERS', '?')} passes, 5 at N=10,000; µs). *copy* is the kernel copying "
      "the whole table out (`IPT_SO_GET_INFO` + `IPT_SO_GET_ENTRIES`), *walk* finds INPUT and "
      "MEMGUARD in it and decodes their rules, *set* reads our ipset's members (only where the "
      "list is in one, N > 16), *compare* builds the wanted rules and diffs. "
      "*raw GET_ENTRIES* is the same kernel copy by a bare C loop (no libfw): the floor of any "
      "reader of a legacy table, memguardd or iptables-legacy-save. *locked libiptc read* is, "
      "measured in the same run, what a pass cost before the snapshot (and what a pass that "
      "repairs still pays): `/run/xtables.lock`, `iptc_init`, read, compare:\n")
    w("| N | v4 copy | v4 walk | v4 set | v4 compare | v6 copy | v6 walk | v6 set | v6 compare "
      "| raw GET_ENTRIES v4+v6 | locked libiptc read v4+v6 | copy share of the pass "
      "| raw v4+v6 / save v4+v6 |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        p = load_probe(work, f"probe_verify_{n}.txt", 2)
        keys = [f"{f}_snapshot_{k}" for f in ("v4", "v6")
                for k in ("copy", "walk", "set", "compare")]
        old = ["v4_lock", "v4_iptc_init", "v4_read_decode", "v4_build_compare",
               "v6_lock", "v6_iptc_init", "v6_read_decode", "v6_build_compare"]
        if not all(k in p for k in keys + old):
            continue
        tot = sum(p[k] for k in keys)
        share = (p["v4_snapshot_copy"] + p["v6_snapshot_copy"]) / tot * 100
        raw = p.get("v4_raw_get_entries", 0) + p.get("v6_raw_get_entries", 0)
        sv = med(data, ("verify", "save_both", n))
        w(f"| {n} | " + " | ".join(fmt(p[k]) for k in keys) +
          f" | {fmt(raw)} | {fmt(sum(p[k] for k in old))} | {share:.1f} % | "
          f"{ratio(raw / 1000, sv)} |")
    w("")
    strace = f"{work}/strace_diff.txt"
    if os.path.exists(strace):
        w("`strace -c -f memguardd diff` at N=100 (syscall time; `getsockopt` is "
          "`IPT_SO_GET_INFO`/`IPT_SO_GET_ENTRIES`, the kernel copying the whole table):\n")
        w("```\n" + open(strace).read().strip() + "\n```\n")

    # ---------------------------------------------------------------- 3 idle
    w("## 3. Idle cost of the daemon\n")
    f = lambda k: float(idle.get(k, "nan") or "nan")  # noqa: E731
    w(f"`memguardd run` with `verify_interval_s: 1`, N={idle.get('big_N', '?')}, observed for "
      f"{idle.get('big_WINDOW_S', '?')} s after a {idle.get('big_WARMUP_S', '?')} s warm-up "
      "(start and first apply excluded), on the table with "
      f"{int(foreign):,} foreign rules per family; then the same with an allowlist of "
      f"N={int(idle.get('long_N', '0') or 0):,} (as in scenario 4), and with N="
      f"{idle.get('small_N', '?')} on a table holding only memguardd's rules, "
      f"{idle.get('small_WINDOW_S', '?')} s each. "
      "CPU from `/proc/PID/stat` utime+stime (10 ms ticks) and, finer, the sum of "
      "`/proc/PID/task/*/schedstat` run time; memory from `/proc/PID/status`.\n")
    cols = [("big", f"N={idle.get('big_N', '?')}, {int(foreign):,} foreign rules/family"),
            ("long", f"N={int(idle.get('long_N', '0') or 0):,}, {int(foreign):,} foreign "
                     "rules/family"),
            ("small", f"N={idle.get('small_N', '?')}, no foreign rules")]
    w("| metric | " + " | ".join(c[1] for c in cols) + " |")
    w("|---|" + "---:|" * len(cols))
    both = lambda label, key, conv, unit: w(  # noqa: E731
        f"| {label} | " + " | ".join(f"{conv(f(p + '_' + key)):.3f}{unit}" for p, _ in cols)
        + " |")
    ident = lambda x: x  # noqa: E731
    mib = lambda x: x / 1024  # noqa: E731
    both("CPU, % of one core (schedstat)", "CPU_PCT_SCHED", ident, " %")
    both("CPU, % of one core (stat ticks)", "CPU_PCT_TICKS", ident, " %")
    both("CPU, % of one core over the whole life (incl. start + first apply)",
         "CPU_PCT_LIFE", ident, " %")
    both("CPU per verify pass (schedstat / passes)", "CPU_MS_PER_PASS", ident, " ms")
    both("peak RSS (VmHWM)", "VmHWM", mib, " MiB")
    both("RSS at the end (VmRSS)", "VmRSS", mib, " MiB")
    both("… of which anonymous (RssAnon)", "RssAnon", mib, " MiB")
    both("… of which file-backed: binary + shared libraries (RssFile)", "RssFile", mib, " MiB")
    w("| threads | " + " | ".join(idle.get(p + "_Threads", "?") for p, _ in cols) + " |")
    w("| drift lines logged (expected 0) | "
      + " | ".join(idle.get(p + "_DRIFT_LINES", "?") for p, _ in cols) + " |")
    w("\nThe passes counted are the timer's ticks (one per second); a pass that takes longer "
      "than the interval, or waits for `/run/xtables.lock` held by another program, makes "
      "fewer passes and the per-pass figure an underestimate.\n")
    w("")
    w(f"For scale: peak RSS of `memguardd --version` (binary + libraries only) "
      f"{f('VERSION_MAXRSS_KB') / 1024:.2f} MiB, of `memguardd check` (plus config parse) "
      f"{f('CHECK_MAXRSS_KB') / 1024:.2f} MiB (`/usr/bin/time -f %M`).\n")
    cpu_sched = f("big_CPU_PCT_SCHED")
    cpu_ticks = f("big_CPU_PCT_TICKS")
    hwm = f("big_VmHWM")

    # ---------------------------------------------------------------- 4 packets
    w("## 4. Packet path: memcached throughput through the firewall\n")
    w(f"memcached {env.get('MEMCACHED', '')} (`-t {env.get('MC_THREADS', '?')}`) in a server "
      "namespace, the load client in a client namespace, one veth pair between them; "
      "IPv4 only; no foreign rules in this scenario (INPUT holds only memguardd's jumps). "
      "Firewall configs, run alternately: none (memguardd's rules removed: no conntrack, empty "
      "INPUT), conntrack only (see below), memguardd with an allowlist of 1 entry (the "
      "client), memguardd with an allowlist of 10,000 entries with the client's /32 **last**. "
      "Modes: `persist` = bench/mcload, each of "
      f"{env.get('PKT_THREADS', '?')} threads keeps one connection and loops `get` "
      "(everything after the handshake hits the ESTABLISHED rule); `connect` = bench/mcload, "
      "each thread loops connect + `get` + close (RST) — every request's SYN walks the "
      "chain to the client's rule; `memcslap` = libmemcached's load generator "
      f"(`-c {env.get('PKT_THREADS', '?')} -t get`, long-lived connections, get phase only). "
      f"{env.get('PKT_S', '?')} s per mcload run, `--execute-number "
      f"{env.get('MEMCSLAP_EXEC', '?')}` for memcslap.\n")
    cfgs = [("none", "no firewall"), ("ctonly", "conntrack only (not memguardd)"),
            ("allow1", "memguardd, allow 1"),
            ("allow10000", "memguardd, allow 10,000 (client last; in its ipset)"),
            ("rules10000", "before: 10,000 -s rules (client last; memguardd before a0fa138)")]

    def pkt_table(suffix, unit, higher_is_better, modes):
        w("| mode | " + " | ".join(label for _, label in cfgs) + " | runs |")
        w("|---|" + "---:|" * len(cfgs) + "---|")
        for mode in modes:
            key = lambda c: ("pkt_" + mode + suffix, c, "0")  # noqa: E731
            cells = []
            for c, _ in cfgs:
                x = med(data, key(c))
                if x is None:
                    cells.append("–")
                    continue
                digits = 0 if x >= 100 else 1
                cell = f"{x:,.{digits}f}"
                pr = paired(by_run, key(c), key("none")) if c != "none" else None
                if pr:
                    sign = -1 if higher_is_better else 1
                    m, lo, hi = [(v - 1) * 100 * sign for v in pr]
                    lo, hi = min(lo, hi), max(lo, hi)
                    cell += f"<br>**{m:+.1f} %** <sub>[{lo:+.0f}…{hi:+.0f}]</sub>"
                else:
                    q = quart(data, key(c))
                    if q:
                        cell += f"<br><sub>[{q[0]:,.{digits}f}–{q[1]:,.{digits}f}]</sub>"
                cells.append(cell)
            runs = len(data.get(key("none"), []))
            w(f"| {mode} | " + " | ".join(cells) + f" | {runs} |")
        w("")

    w("**Throughput** (ops/s, median over rounds). Under each: the **cost versus no firewall** "
      "(positive = fewer ops/s), as the median over rounds of the per-round ratio to the no-"
      "firewall run of the same round, with its interquartile range — the spread is the "
      "measurement's noise; a cost inside it is not resolved.\n")
    pkt_table("", "ops/s", True, ("persist", "connect", "memcslap"))
    w("**CPU per request** (µs of CPU per get: the client's user+sys time, which on a veth "
      "pair includes the softirq receive path — netfilter INPUT hook included — of the "
      "packets it sends, plus memcached's run time from schedstat). Much less sensitive to "
      "other load on the machine than throughput, so it resolves smaller differences; cost "
      "= more CPU per request.\n")
    pkt_table("_cpu", "µs", False, ("persist", "connect"))
    w("*conntrack only* is one `-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` rule "
      "written with iptables, to separate what connection tracking costs (any stateful "
      "firewall pays it) from what memguardd's chain costs. *memguardd, allow 10,000* puts "
      "the networks in its `memguard4` ipset (`hash:net`, one `-m set --match-set memguard4 "
      "src` rule), as it does for any list of more than 16 networks. *before* is the layout "
      "memguardd wrote up to commit a0fa138, one `-s` rule per network, written here with "
      "iptables-legacy-restore so that both run side by side: the before/after of the set.\n")

    # ---------------------------------------------------------------- targets
    w("## Targets\n")
    w("| target | measured | |")
    w("|---|---|---|")
    n = "100"
    mg = med(data, ("apply", "memguardd", n))
    rs = med(data, ("apply", "restore", n))
    pr = med(data, ("apply", "perrule", n))
    mgc = med(data, ("apply_cpu", "memguardd", n))
    rsc = med(data, ("apply_cpu", "restore", n))
    if mg and rs:
        cpu_txt = f"; CPU time {mgc / rsc:.2f}× ({mgc:.0f} vs {rsc:.0f} ms)" if mgc and rsc else ""
        cpu_ok = "" if not (mgc and rsc) or (mgc / rsc <= 1.0) == (mg / rs <= 1.0) else \
            " on wall time; not on CPU time"
        w(f"| apply ≤ 1.0× iptables-legacy-restore (N=100) | {mg / rs:.2f}× wall "
          f"({mg:.1f} vs {rs:.1f} ms){cpu_txt} | {verdict(mg / rs <= 1.0)}{cpu_ok} |")
    rc = med(data, ("apply", "recipe", n))
    if mg and pr:
        w(f"| apply ≥ 20× faster than per-rule iptables (N=100; the same rules and set, one "
          f"process per rule or member) | {pr / mg:.1f}× ({pr:.0f} vs {mg:.1f} ms) | "
          f"{verdict(pr / mg >= 20)} |")
    if mg and rc:
        w(f"| apply ≥ 20× faster than per-rule iptables (N=100; the recipe's own -s rules, one "
          f"iptables call per network) | {rc / mg:.1f}× ({rc:.0f} vs {mg:.1f} ms) | "
          f"{verdict(rc / mg >= 20)} |")
    s = med(data, ("verify", "save_both", n))
    p = load_probe(work, f"probe_verify_{n}.txt")
    d = med(data, ("verify", "memguardd_diff", n))
    if s and "pass_wall" in p:
        pw = p["pass_wall"] / 1000
        w(f"| verify pass ≤ 0.2× iptables-legacy-save (N=100, in-daemon pass vs save v4+v6) "
          f"| {pw / s:.2f}× ({pw:.2f} vs {s:.2f} ms) | {verdict(pw / s <= 0.2)} |")
    if s and d:
        w(f"| same, as a process (`memguardd diff` vs save v4+v6) | {d / s:.2f}× "
          f"({d:.2f} vs {s:.2f} ms) | {verdict(d / s <= 0.2)} |")
    if cpu_sched == cpu_sched:
        w(f"| idle < 0.5 % of a core | {cpu_sched:.3f} % (schedstat), {cpu_ticks:.3f} % "
          f"(stat) | {verdict(cpu_sched < 0.5)} |")
    if hwm == hwm:
        w(f"| RSS < 6 MiB | VmHWM {hwm / 1024:.2f} MiB | {verdict(hwm / 1024 < 6)} |")
    # Against no firewall the cost includes connection tracking, which any stateful firewall
    # pays (the 1-entry list pays it too); against the 1-entry list it is what the length costs.
    baselines = (("none", "vs no firewall, conntrack included"),
                 ("allow1", "vs memguardd with a 1-entry list: what the length costs"))
    for base, base_label in baselines:
        for mode in ("persist", "connect", "memcslap"):
            pr = paired(by_run, ("pkt_" + mode, "allow10000", "0"), ("pkt_" + mode, base, "0"))
            if not pr:
                continue
            m, lo, hi = [(1 - v) * 100 for v in pr]
            lo, hi = min(lo, hi), max(lo, hi)
            resolved = not (lo < 0 < hi)
            cpu = paired(by_run, ("pkt_" + mode + "_cpu", "allow10000", "0"),
                         ("pkt_" + mode + "_cpu", base, "0"))
            cpu_txt = f"; CPU per request {(cpu[0] - 1) * 100:+.1f} %" if cpu else ""
            note = "" if resolved else " (IQR includes 0: no cost resolved)"
            if hi < 5:
                v = verdict(True)
            elif lo > 5:
                v = verdict(False)
            else:
                v = f"**not resolved** (median {'<' if m < 5 else '≥'} 5 %, IQR spans 5 %)"
            w(f"| 10,000-entry allowlist < 5 % throughput cost ({mode}; {base_label}) | "
              f"{m:+.1f} % [IQR {lo:+.0f}…{hi:+.0f}]{note}{cpu_txt} | {v} |")
    w("")
    w("How to read these numbers, what limits them, and what the misses are caused by: "
      "`bench/README.md`.\n")

    with open(f"{out_dir}/results.md", "w") as f:
        f.write("\n".join(md) + "\n")

    # ---------------------------------------------------------------- plot data
    with open(f"{work}/apply.dat", "w") as f:
        for n in sizes:
            f.write(f"{n} " + " ".join(fmt(med(data, ("apply", c, n)), 3).replace(",", "")
                                      .replace("–", "NaN")
                                      for c in ("memguardd", "restore", "perrule", "recipe")) + "\n")
    with open(f"{work}/verify.dat", "w") as f:
        for n in sizes:
            p = load_probe(work, f"probe_verify_{n}.txt")
            pw = p.get("pass_wall")
            vals = [med(data, ("verify", "memguardd_diff", n)),
                    pw / 1000 if pw is not None else None,
                    med(data, ("verify", "save_both", n))]
            f.write(f"{n} " + " ".join("NaN" if v is None else f"{v:.3f}" for v in vals) + "\n")
    with open(f"{work}/pkt.dat", "w") as f:
        for mode in ("persist", "connect", "memcslap"):
            vals = [med(data, ("pkt_" + mode, c, "0")) for c in
                    ("none", "ctonly", "allow1", "allow10000", "rules10000")]
            f.write(f"{mode} " + " ".join("NaN" if v is None else f"{v:.0f}" for v in vals)
                    + "\n")
    with open(f"{work}/pktcpu.dat", "w") as f:
        for mode in ("persist", "connect"):
            vals = [med(data, ("pkt_" + mode + "_cpu", c, "0")) for c in
                    ("none", "ctonly", "allow1", "allow10000", "rules10000")]
            f.write(f"{mode} " + " ".join("NaN" if v is None else f"{v:.2f}" for v in vals)
                    + "\n")
    with open(f"{work}/plot.gp", "w") as f:
        f.write(f"""set terminal pngcairo size 1400,1000 font ",10"
set output "{out_dir}/results.png"
set multiplot layout 2,2 title "memguardd benchmarks ({env.get('CPU', '')}, {env.get('NPROC', '')} cores, {env.get('KERNEL', '')}; medians)"
set logscale xy
set grid
set key top left
set xlabel "allowlist entries N"
set ylabel "ms (log)"
set title "1. apply, {int(foreign):,} foreign rules/family"
plot "{work}/apply.dat" u 1:2 w lp lw 2 pt 7 t "memguardd apply --once", \\
     "" u 1:3 w lp lw 2 pt 5 t "iptables-legacy-restore --noflush", \\
     "" u 1:4 w lp lw 2 pt 9 t "per-rule (same rules + set)", \\
     "" u 1:5 w lp lw 2 pt 11 t "recipe: iptables-legacy -A -s per network"
set title "2. verify pass (nothing to repair)"
plot "{work}/verify.dat" u 1:2 w lp lw 2 pt 7 t "memguardd diff (process)", \\
     "" u 1:3 w lp lw 2 pt 6 t "in-daemon pass (passprobe)", \\
     "" u 1:4 w lp lw 2 pt 5 t "iptables-legacy-save v4+v6"
unset logscale
set title "4. memcached throughput (ops/s)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xlabel ""
set ylabel "ops/s"
set yrange [0:*]
set key outside bottom center horizontal maxrows 2
plot "{work}/pkt.dat" u 2:xtic(1) t "no firewall", "" u 3 t "conntrack only", "" u 4 t "memguardd allow 1", "" u 5 t "memguardd allow 10,000 (ipset)", "" u 6 t "before: 10,000 -s rules"
set title "4. CPU per request (µs; lower is better)"
set ylabel "µs CPU / get"
plot "{work}/pktcpu.dat" u 2:xtic(1) t "no firewall", "" u 3 t "conntrack only", "" u 4 t "memguardd allow 1", "" u 5 t "memguardd allow 10,000 (ipset)", "" u 6 t "before: 10,000 -s rules"
unset multiplot
""")


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]), [int(x) for x in sys.argv[4:]])
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
