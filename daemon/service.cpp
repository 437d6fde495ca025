#include "service.hpp"

#include "audit.hpp"
#include "backend.hpp"
#include "config.hpp"
#include "conflict.hpp"
#include "fd.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "netlink/socket.hpp"
#include "revocation.hpp"
#include "state_file.hpp"
#include "timer.hpp"

#include <systemd/sd-daemon.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <malloc.h>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/signalfd.h>

namespace memguard {

namespace {

using spdlog::level::err;
using spdlog::level::info;
using spdlog::level::warn;

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string first_drift(const Report& report) {
    for (const auto& f : report.families) {
        if (!f.drift.empty()) {
            return f.drift.front().describe();
        }
    }
    return "none";
}

std::string summary(const Policy& p) {
    return std::to_string(p.ports.size()) + " port(s), " + std::to_string(p.allow.size()) +
           " network(s) allowed, action " + std::string(to_string(p.action));
}

void log_repair(const Report& report) {
    for (const auto& f : report.families) {
        for (const auto& d : f.drift) {
            log_event(warn,
                      {Event::drift,
                       f.family,
                       {{"DRIFT_KIND", std::string(to_string(d.kind))}, {"CHAIN", d.chain}}},
                      "drift: " + d.describe());
        }
        if (f.committed) {
            log_event(warn,
                      {Event::repair,
                       f.family,
                       {{"DRIFT_COUNT", std::to_string(f.drift.size())},
                        {"ATTEMPTS", std::to_string(f.attempts)}}},
                      "repaired " + std::string(to_string(f.family)) + ": " +
                          std::to_string(f.drift.size()) + " difference(s) fixed in one commit");
        }
    }
}

class Service {
public:
    explicit Service(std::string config_path)
        : config_path_(std::move(config_path)), backend_(make_iptc_backend()), guard_(*backend_) {}

    int run();

private:
    enum Source : std::uint64_t {
        signal_source,
        verify_source,
        watchdog_source,
        audit_source,
        audit_timer_source
    };

    void setup_loop();
    void watch(int fd, Source source);
    void configure_audit();
    void revoke(const Report& report);
    void load_initial_policy();
    void apply(Event why);
    void verify();
    void reload();
    void rearm_verify();
    void notify_ready() const;

    std::string config_path_;
    std::unique_ptr<Backend> backend_;
    Guard guard_;
    Policy policy_;
    bool fail_closed_ = false;
    ConflictTracker conflicts_;
    StateFile state_;
    BlockedAudit audit_;
    Fd epoll_, signal_fd_, verify_timer_, watchdog_timer_;
};

void Service::watch(int fd, Source source) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = source;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        throw_errno("epoll_ctl");
    }
}

void Service::setup_loop() {
    sigset_t mask;
    sigemptyset(&mask);
    for (const int sig : {SIGHUP, SIGTERM, SIGINT}) {
        sigaddset(&mask, sig);
    }
    if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
        throw_errno("sigprocmask");
    }
    signal_fd_ = Fd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!signal_fd_ || !epoll_) {
        throw_errno("signalfd/epoll_create1");
    }
    watch(signal_fd_.get(), signal_source);
    std::uint64_t watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
        // Ping at half the interval, as sd_watchdog_enabled(3) advises.
        watchdog_timer_ = make_periodic_timer(std::chrono::microseconds(watchdog_usec / 2));
        watch(watchdog_timer_.get(), watchdog_source);
    }
}

// Closing the old timer takes it out of the epoll set as well.
void Service::rearm_verify() {
    verify_timer_ = make_periodic_timer(policy_.verify_interval);
    watch(verify_timer_.get(), verify_source);
}

void Service::load_initial_policy() {
    try {
        policy_ = load_config(config_path_);
        log_event(info, {Event::config, std::nullopt, {}},
                  "loaded " + config_path_ + ": " + summary(policy_));
    } catch (const ConfigError& e) {
        for (const auto& problem : e.problems()) {
            log_event(err, {Event::config, std::nullopt, {}}, problem);
        }
        policy_ = guard_.fail_closed_policy();
        fail_closed_ = true;
        log_event(err, {Event::config, std::nullopt, {{"FAIL_CLOSED", "1"}}},
                  "no valid configuration: failing closed, port(s) open to loopback only; fix " +
                      config_path_ + " and run systemctl reload memguardd");
    }
}

void Service::apply(Event why) {
    // Start and reload usually change the rules: read under the lock straight away.
    const Report report = guard_.reconcile(policy_, FirstLook::locked);
    for (const auto& f : report.families) {
        log_event(
            info,
            {why,
             f.family,
             {{"CHANGES", std::to_string(f.drift.size())}, {"COMMITTED", f.committed ? "1" : "0"}}},
            std::string(to_string(f.family)) + ": " +
                (f.committed ? "applied " + std::to_string(f.drift.size()) + " change(s)"
                             : std::string("already in place")) +
                (fail_closed_ ? " (fail-closed: loopback only)" : ""));
    }
    state_.record_apply(report, fail_closed_);
    revoke(report);
    // libiptc held a parsed copy of the whole table (megabytes on a busy host) and freed it;
    // hand those pages back rather than keep them for the daemon's whole life.
    ::malloc_trim(0);
}

void Service::revoke(const Report& report) {
    const auto sources = revoked_sources(report);
    if (sources.empty()) {
        return;
    }
    std::string names;
    for (const auto& net : sources) {
        names += (names.empty() ? "" : ", ") + net.to_string();
    }
    try {
        const auto cut = revoke_connections(sources, policy_);
        log_event(info,
                  {Event::revoke,
                   std::nullopt,
                   {{"NETWORKS", names}, {"CONNECTIONS", std::to_string(cut)}}},
                  "revoked " + names + ": cut " + std::to_string(cut) + " open connection(s)");
    } catch (const netlink::NetlinkError& e) {
        log_event(err, {Event::error, std::nullopt, {{"NETWORKS", names}}},
                  "could not cut the open connections of " + names + ": " + e.what());
    }
}

// Failing to bind the NFLOG group (another logger owns it) costs the audit, not the guard.
void Service::configure_audit() {
    try {
        if (audit_.configure(policy_) && audit_.active()) {
            watch(audit_.fd(), audit_source);
            watch(audit_.timer_fd(), audit_timer_source);
        }
    } catch (const netlink::NetlinkError& e) {
        log_event(
            err, {Event::error, std::nullopt, {{"NFLOG_GROUP", std::to_string(policy_.log_group)}}},
            std::string("blocked attempts will not be logged: ") + e.what());
    }
}

void Service::verify() {
    const auto report = guard_.reconcile(policy_);
    const bool drifted = report.drift_count() > 0;
    const auto verdict = conflicts_.pass(drifted, ConflictTracker::clock::now());
    const std::string repairs = std::to_string(conflicts_.repairs_in_conflict());
    auto log_conflict = [&](spdlog::level::level_enum level, const std::string& message) {
        log_event(level, {Event::conflict, std::nullopt, {{"REPAIRS", repairs}}}, message);
    };
    switch (verdict) {
    case ConflictTracker::Verdict::quiet_pass:
    case ConflictTracker::Verdict::suppressed:
        break;
    case ConflictTracker::Verdict::report_drift:
        log_repair(report);
        break;
    case ConflictTracker::Verdict::conflict_started:
        log_repair(report);
        log_conflict(err, "conflict: our rules were changed again in each of the last " + repairs +
                              " checks; another program is fighting memguardd "
                              "(a firewall manager, docker, a script?). Still repairing; "
                              "further repairs are summarised");
        break;
    case ConflictTracker::Verdict::conflict_summary:
        log_conflict(err, "conflict continues: " + repairs +
                              " repairs so far; latest: " + first_drift(report));
        break;
    case ConflictTracker::Verdict::conflict_ended:
        log_conflict(info, "conflict over after " + repairs +
                               " repairs: the rules held for a whole interval");
        break;
    }
    if (drifted) {
        state_.record_repair(report);
        revoke(report);
    }
}

void Service::reload() {
    sd_notify(0, "RELOADING=1\nSTATUS=Reloading configuration");
    try {
        Policy next = load_config(config_path_);
        const bool interval_changed = next.verify_interval != policy_.verify_interval;
        policy_ = std::move(next);
        fail_closed_ = false;
        log_event(info, {Event::reload, std::nullopt, {}},
                  "reloaded " + config_path_ + ": " + summary(policy_));
        try {
            apply(Event::reload);
        } catch (const std::exception& e) {
            log_event(err, {Event::error, std::nullopt, {}},
                      std::string("applying the reloaded config failed, retrying at the next "
                                  "verify pass: ") +
                          e.what());
        }
        configure_audit();
        if (interval_changed) {
            rearm_verify();
        }
    } catch (const ConfigError& e) {
        for (const auto& problem : e.problems()) {
            log_event(err, {Event::config, std::nullopt, {}}, problem);
        }
        log_event(err, {Event::reload, std::nullopt, {{"REJECTED", "1"}}},
                  "reload rejected: " + config_path_ +
                      " is invalid; the rules in the kernel are unchanged");
    }
    notify_ready();
}

void Service::notify_ready() const {
    sd_notifyf(0, "READY=1\nSTATUS=Guarding %s%s", summary(policy_).c_str(),
               fail_closed_ ? " (FAIL-CLOSED: invalid config, loopback only)" : "");
}

int Service::run() {
    setup_loop();
    load_initial_policy();
    log_event(info, {Event::start, std::nullopt, {}}, "memguardd " MEMGUARD_VERSION " starting");
    apply(Event::apply);
    configure_audit();
    rearm_verify();
    notify_ready();

    for (;;) {
        epoll_event events[4];
        const int n = ::epoll_wait(epoll_.get(), events, 4, -1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            switch (events[i].data.u64) {
            case signal_source: {
                signalfd_siginfo si{};
                while (::read(signal_fd_.get(), &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGHUP) {
                        reload();
                    } else {
                        sd_notify(0, "STOPPING=1");
                        log_event(info, {Event::stop, std::nullopt, {}},
                                  "stopping; the rules stay in place (memguardd remove takes "
                                  "them out)");
                        return 0;
                    }
                }
                break;
            }
            case verify_source: {
                acknowledge_timer(verify_timer_);
                // The kernel (a table, a set) can refuse anything for a moment; the next pass
                // starts again from what is there.
                try {
                    verify();
                } catch (const std::exception& e) {
                    log_event(err, {Event::error, std::nullopt, {}},
                              std::string("verify failed, retrying next interval: ") + e.what());
                }
                break;
            }
            case audit_source:
                try {
                    audit_.on_readable();
                } catch (const netlink::NetlinkError& e) {
                    log_event(err, {Event::error, std::nullopt, {}},
                              std::string("reading blocked attempts failed: ") + e.what());
                }
                break;
            case audit_timer_source:
                audit_.on_timer();
                break;
            case watchdog_source: {
                acknowledge_timer(watchdog_timer_);
                sd_notify(0, "WATCHDOG=1");
                break;
            }
            default:
                break;
            }
        }
    }
}

} // namespace

int run_service(const std::string& config_path) {
    init_logging();
    try {
        return Service(config_path).run();
    } catch (const std::exception& e) {
        log_event(spdlog::level::critical, {Event::error, std::nullopt, {}},
                  std::string("cannot guard the port: ") + e.what());
        sd_notifyf(0, "STATUS=Failed: %s", e.what());
        return 1;
    }
}

} // namespace memguard
