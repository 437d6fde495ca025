#include "service.hpp"

#include "audit.hpp"
#include "checkpoint.hpp"
#include "config.hpp"
#include "conflict.hpp"
#include "control.hpp"
#include "daemon_state.hpp"
#include "fd.hpp"
#include "guard.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "netlink/socket.hpp"
#include "passes.hpp"
#include "policy_source.hpp"
#include "ready.hpp"
#include "squatter_watch.hpp"
#include "temporary_keeper.hpp"
#include "timer.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
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

// A failed pass is retried after 1 s, then 2, 4, ... up to a minute.
constexpr std::chrono::seconds first_retry{1};
constexpr std::chrono::seconds last_retry{60};

class Service {
public:
    explicit Service(std::string config_path)
        : config_path_(std::move(config_path)), source_(config_path_), state_(config_path_),
          temporary_(config_path_) {}

    int run();

private:
    // One handler per event source; epoll hands back the handler's index in handlers_.
    using Handler = void (Service::*)();
    void claim_instance();
    void setup_loop();
    void watch(int fd, Handler handler);
    void configure_audit();
    void follow_config();
    void apply(Event why);
    void after_pass(const Pass& pass);
    void follow_backend();
    // `timer`: the verify timer's pass (the others: a change event, SIGUSR1, `memguardd verify`).
    Report verify(bool timer = false);
    void reload();
    void rearm_verify();
    void notify_ready() { notifier_.update(state_, policy_); }
    void on_signal();
    void on_verify_timer();
    void on_retry_timer();
    void on_audit();
    void on_audit_timer();
    void on_watchdog();
    void on_control();
    void on_change();
    void on_temporary_timer();
    [[nodiscard]] std::string answer(const std::string& request);
    // Temporary entries: the policy in force is the config's plus theirs (temporary_keeper.hpp).
    void expire_temporary();
    void follow_temporary(bool pass);

    std::string config_path_;
    std::optional<Guard> guard_; // made once the config says which backend
    int watched_change_fd_ = -1;
    std::string caveat_; // the backend's, as last logged
    PolicySource source_;
    // What source_ gave (the config, the last good policy, or failing closed); policy_ adds the
    // temporary entries to it, except while failing closed.
    Policy config_;
    Policy policy_;
    ReadyNotifier notifier_;
    std::chrono::seconds retry_after_{first_retry};
    ConflictTracker conflicts_;
    DaemonState state_;
    RefusalLog refusals_;
    ChangeLog changes_;
    BlockedAudit audit_;
    Metrics metrics_;
    TemporaryKeeper temporary_;
    std::optional<InstanceLock> lock_;
    std::optional<ControlSocket> control_; // after lock_: its name goes while the lock is held
    std::vector<Handler> handlers_;
    bool stopping_ = false;
    Fd epoll_, signal_fd_, verify_timer_, watchdog_timer_, retry_timer_, temporary_timer_;
};

void Service::watch(int fd, Handler handler) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    // A descriptor made again (a rearmed timer) keeps its handler's index.
    auto at = std::ranges::find(handlers_, handler);
    if (at == handlers_.end()) {
        at = handlers_.insert(at, handler);
    }
    ev.data.u64 = static_cast<std::uint64_t>(at - handlers_.begin());
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        throw_errno("epoll_ctl");
    }
}

void Service::setup_loop() {
    sigset_t mask;
    sigemptyset(&mask);
    for (const int sig : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) {
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
    watch(signal_fd_.get(), &Service::on_signal);
    if (control_) {
        watch(control_->fd(), &Service::on_control);
    }
    std::uint64_t watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
        // Ping at half the interval, as sd_watchdog_enabled(3) advises.
        watchdog_timer_ = make_periodic_timer(std::chrono::microseconds(watchdog_usec / 2));
        watch(watchdog_timer_.get(), &Service::on_watchdog);
    }
}

// Another daemon holding the lock guards this namespace: stop here, having changed nothing. Any
// other failure costs the lock or the control channel, never the guard.
void Service::claim_instance() {
    try {
        const InstancePaths paths = instance_paths();
        lock_.emplace(InstanceLock::take(paths));
        control_.emplace(ControlSocket::open(paths));
    } catch (const AlreadyRunning&) {
        throw;
    } catch (const std::exception& e) {
        log_event(err, {Event::error, std::nullopt, {}},
                  std::string(lock_ ? "no control channel: " : "no instance lock: ") + e.what() +
                      "; guarding anyway, but memguardd status cannot reach this daemon" +
                      (lock_ ? "" : " and a second one would not be kept out"));
    }
}

// Closing the old timer takes it out of the epoll set as well.
void Service::rearm_verify() {
    verify_timer_ = make_periodic_timer(policy_.verify_interval);
    watch(verify_timer_.get(), &Service::on_verify_timer);
}

// The policy in force: config_ and, unless failing closed, the temporary entries.
void Service::follow_config() {
    policy_ = source_.failing_closed() ? config_ : temporary_.applied_to(config_);
}

void Service::apply(Event why) {
    const Pass pass = guard_->pass(policy_, PassKind::apply);
    follow_backend();
    changes_.log(policy_, pass.report, why, source_.failing_closed());
    log_apply(pass.report, why, source_.failing_closed());
    if (!pass.report.failed()) {
        source_.applied();
    }
    state_.record_apply(source_.running());
    state_.record_pass(pass.report);
    metrics_.record().config(source_.running());
    metrics_.record().pass(pass.report, PassKind::apply, source_.failing_closed());
    after_pass(pass);
    metrics_.write(policy_, guard_->backend());
}

// The backend may have changed with the config: say which runs, and listen to its kernel.
void Service::follow_backend() {
    const std::string name(guard_->backend_name());
    if (name != state_.backend()) {
        log_event(info, {Event::backend, std::nullopt, {{"BACKEND", name}}},
                  "backend " + name + ": " + guard_->backend_why());
        state_.record_backend(name, guard_->backend_why());
    }
    if (const std::string caveat = guard_->backend().caveat(); caveat != caveat_) {
        if (!caveat.empty()) {
            log_event(warn, {Event::backend, std::nullopt, {{"BACKEND", name}}}, caveat);
        }
        caveat_ = caveat;
    }
    // The old backend's descriptor left the epoll set when it was closed.
    const int fd = guard_->backend().change_fd();
    if (fd >= 0 && fd != watched_change_fd_) {
        watch(fd, &Service::on_change);
    }
    watched_change_fd_ = fd;
}

// What every pass that may have written ends with: refusals, revocation, the retry timer.
void Service::after_pass(const Pass& pass) {
    const Report& report = pass.report;
    refusals_.log(report);
    log_revocation(pass);
    metrics_.record().revocation(pass);
    if (!report.failed()) {
        retry_timer_.reset();
        retry_after_ = first_retry;
        return;
    }
    if (retry_timer_) {
        return; // a retry is due already: a verify pass in between adds nothing to say
    }
    log_failure(report, retry_after_);
    retry_timer_ = make_oneshot_timer(retry_after_);
    watch(retry_timer_.get(), &Service::on_retry_timer);
    retry_after_ = std::min(retry_after_ * 2, last_retry);
}

// Failing to bind the NFLOG group (another logger owns it) costs the audit, not the guard.
void Service::configure_audit() {
    try {
        if (audit_.configure(policy_) && audit_.active()) {
            watch(audit_.fd(), &Service::on_audit);
            watch(audit_.timer_fd(), &Service::on_audit_timer);
        }
    } catch (const KernelError& e) {
        log_event(
            err, {Event::error, std::nullopt, {{"NFLOG_GROUP", std::to_string(policy_.log_group)}}},
            std::string("blocked attempts will not be logged: ") + e.what());
    }
}

Report Service::verify(bool timer) {
    expire_temporary(); // also when the timer misfired or the clock jumped
    const auto started = std::chrono::steady_clock::now();
    const Pass pass = guard_->pass(policy_, PassKind::verify);
    const Report& report = pass.report;
    const bool drifted = report.drift_count() > 0;
    metrics_.record().pass(report, PassKind::verify, source_.failing_closed(),
                           std::chrono::steady_clock::now() - started);
    metrics_.record().conflict(log_verdict(conflicts_, report, drifted, timer));
    state_.record_pass(report);
    if (drifted) {
        state_.record_repair(report);
    }
    if (drifted || report.failed()) {
        after_pass(pass);
    }
    metrics_.write(policy_, guard_->backend());
    check_squatter(state_);
    notify_ready();
    return report;
}

void Service::reload() {
    sd_notify(0, "RELOADING=1\nSTATUS=Reloading configuration");
    if (auto next = source_.at_reload()) {
        const bool interval_changed = next->verify_interval != policy_.verify_interval;
        config_ = std::move(*next);
        follow_config();
        log_event(info, {Event::reload, std::nullopt, {}},
                  "reloaded " + config_path_ + ": " + summary(policy_));
        log_warnings(config_);
        apply(Event::reload);
        configure_audit();
        if (interval_changed) {
            rearm_verify();
        }
    } else {
        log_event(err, {Event::reload, std::nullopt, {{"REJECTED", "1"}}},
                  "reload rejected: " + config_path_ +
                      " is invalid; the rules in the kernel are unchanged");
        state_.record_config(source_.running());
        metrics_.record().reload_failed();
        metrics_.record().config(source_.running());
        metrics_.write(policy_, guard_->backend());
    }
    notifier_.reloaded();
    notify_ready();
}

// One request per connection from the CLI: `status`, `verify` (a verify-and-repair pass now),
// `explain ADDRESS` (what the audit blocked from it), or a JSON object, allow or revoke
// (temporary_keeper.hpp).
std::string Service::answer(const std::string& request) {
    if (request.starts_with("explain ")) {
        return audit_.explain(std::string_view(request).substr(8)).dump() + "\n";
    }
    if (request == "status") {
        nlohmann::json out = state_.to_json();
        out["temporary"] = temporary_.to_json(wall_now());
        return out.dump() + "\n";
    }
    if (request == "verify") {
        return pass_json(verify()).dump() + "\n";
    }
    if (request.starts_with("{")) { // allow, revoke
        // A grant lasts at least as long as asked: its time is rounded up to a second.
        auto outcome = temporary_.answer(
            request, source_.failing_closed() ? nullptr : &config_,
            std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now()));
        if (outcome.changed) {
            follow_temporary(true);
        }
        return outcome.answer;
    }
    return nlohmann::json{{"error", "unknown request \"" + request.substr(0, 40) + "\""}}.dump() +
           "\n";
}

void Service::on_signal() {
    signalfd_siginfo si{};
    while (::read(signal_fd_.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            reload();
        } else if (si.ssi_signo == SIGUSR1) { // memguardd verify, for scripts: a pass now
            verify();
        } else {
            sd_notify(0, "STOPPING=1");
            log_event(info, {Event::stop, std::nullopt, {}},
                      "stopping; the rules stay in place (memguardd remove takes them out)");
            stopping_ = true;
            return;
        }
    }
}

void Service::on_verify_timer() {
    acknowledge_timer(verify_timer_);
    verify(true);
}

void Service::on_retry_timer() {
    retry_timer_.reset();
    apply(Event::apply);
    notify_ready();
}

void Service::on_audit() {
    try {
        audit_.on_readable();
    } catch (const KernelError& e) {
        log_event(err, {Event::error, std::nullopt, {}},
                  std::string("reading blocked attempts failed: ") + e.what());
    }
}

void Service::on_audit_timer() {
    audit_.on_timer();
}

void Service::on_watchdog() {
    acknowledge_timer(watchdog_timer_);
    sd_notify(0, "WATCHDOG=1");
}

// The timer is monotonic, expiry wall-clock time: after the clock stepped back nothing may be
// due yet, and the timer is set again for what is.
void Service::on_temporary_timer() {
    acknowledge_timer(temporary_timer_);
    follow_temporary(temporary_.expire(wall_now()));
}

void Service::expire_temporary() {
    if (temporary_.expire(wall_now())) {
        follow_temporary(true);
    }
}

// After the entries changed: an apply pass with the new policy (its revocation cuts what lost
// its entry), the metrics, and the timer for the next expiry. Failing closed, they wait.
void Service::follow_temporary(bool pass) {
    metrics_.record().temporary(temporary_.counts());
    if (pass && !source_.failing_closed()) {
        follow_config();
        apply(Event::apply);
    }
    temporary_timer_.reset();
    if (const auto after = temporary_.until_next(wall_now())) {
        temporary_timer_ = make_oneshot_timer(*after);
        watch(temporary_timer_.get(), &Service::on_temporary_timer);
    }
}

void Service::on_control() {
    control_->serve_one([this](const std::string& request) { return answer(request); });
}

// The kernel told of a change to our rules (a backend with change events): look now.
void Service::on_change() {
    if (guard_->backend().changed()) {
        verify();
    }
}

int Service::run() {
    claim_instance();
    setup_loop();
    log_event(info, {Event::start, std::nullopt, {}}, "memguardd " MEMGUARD_VERSION " starting");
    temporary_.load(wall_now());
    config_ = source_.at_start(guard_);
    follow_config();
    follow_temporary(false); // their metrics and timer: the first pass applies them already
    changes_.before_start(*guard_);
    apply(Event::apply);
    check_squatter(state_);
    configure_audit();
    rearm_verify();
    notify_ready();
    for (;;) {
        epoll_event events[8];
        const int n = ::epoll_wait(epoll_.get(), events, 8, -1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno("epoll_wait");
        }
        for (int i = 0; i < n && !stopping_; ++i) {
            (this->*handlers_.at(events[i].data.u64))();
        }
        if (stopping_) {
            metrics_.write_stopped(policy_, guard_->backend());
            return 0;
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
