// The Prometheus textfile (daemon/metrics_*.cpp): the figures a pass leaves, their text in the
// exposition format, and the file's atomic replacement.
#include "support.hpp"

#include "metrics_file.hpp"
#include "metrics_format.hpp"
#include "metrics_record.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using memguard::BlockedCount;
using memguard::ConflictTracker;
using memguard::Drift;
using memguard::Family;
using memguard::FamilyReport;
using memguard::format_metrics;
using memguard::MetricsRecorder;
using memguard::MetricsSnapshot;
using memguard::PassKind;
using memguard::Protocol;
using memguard::Report;
using unit::net;

namespace {

const MetricsRecorder::wall_clock::time_point at_1700000000{std::chrono::seconds(1700000000)};

FamilyReport family(Family f, std::vector<std::string> drift_kinds, bool committed) {
    FamilyReport r;
    r.family = f;
    for (auto& kind : drift_kinds) {
        r.drift.push_back(Drift{f, std::move(kind), "MEMGUARD", "text"});
    }
    r.committed = committed;
    return r;
}

Report report(std::vector<FamilyReport> families) {
    Report r;
    r.families = std::move(families);
    return r;
}

// The sample lines of `text` (no comments), one string each.
std::vector<std::string> samples(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with("#")) {
            out.push_back(line);
        }
    }
    return out;
}

bool has_sample(const std::string& text, const std::string& line) {
    const auto all = samples(text);
    return std::ranges::find(all, line) != all.end();
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh directory under TMPDIR, removed at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string t = (std::filesystem::temp_directory_path() / "memguard-metrics.XXXXXX");
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

} // namespace

TEST_CASE("metrics: label values are escaped as the exposition format says", "[metrics]") {
    CHECK(memguard::escape_label_value("plain-name_1") == "plain-name_1");
    CHECK(memguard::escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

TEST_CASE("metrics: every metric has HELP then TYPE, and its samples follow its own TYPE",
          "[metrics]") {
    MetricsSnapshot s;
    s.in_sync = true;
    s.backend = "nftables";
    s.allowed = {{Family::ipv4, "default", 3}, {Family::ipv6, "default", 1}};
    s.drift = {{"rule_missing", 2}, {"set_members", 1}};
    s.repairs = 2;
    s.blocked = std::vector<BlockedCount>{{Family::ipv4, Protocol::tcp, 7, 420},
                                          {Family::ipv6, Protocol::udp, 3, 270}};
    s.last_apply_success = 1700000000.25;
    s.verify_duration = 0.0015;
    const std::string text = format_metrics(s);
    REQUIRE(text.ends_with("\n"));
    std::istringstream in(text);
    std::string family;
    std::string expect = "HELP";
    for (std::string line; std::getline(in, line);) {
        INFO(line);
        if (line.starts_with("# HELP ")) {
            REQUIRE(expect != "TYPE");
            family = line.substr(7, line.find(' ', 7) - 7);
            expect = "TYPE";
        } else if (line.starts_with("# TYPE ")) {
            REQUIRE(expect == "TYPE");
            CHECK(line.starts_with("# TYPE " + family + " "));
            CHECK(line.ends_with(family.ends_with("_total") ? " counter" : " gauge"));
            expect = "sample";
        } else {
            REQUIRE(expect == "sample");
            CHECK(line.substr(0, line.find_first_of("{ ")) == family);
        }
    }
    CHECK(has_sample(text, "memguardd_up 1"));
    CHECK(has_sample(text, "memguardd_in_sync 1"));
    CHECK(has_sample(text, "memguardd_failing_closed 0"));
    CHECK(has_sample(text, "memguardd_backend_info{backend=\"nftables\"} 1"));
    CHECK(has_sample(text, "memguardd_allowed_networks{family=\"ipv4\",guard=\"default\"} 3"));
    CHECK(has_sample(text, "memguardd_allowed_networks{family=\"ipv6\",guard=\"default\"} 1"));
    CHECK(has_sample(text, "memguardd_drift_total{kind=\"rule_missing\"} 2"));
    CHECK(has_sample(text, "memguardd_drift_total{kind=\"set_members\"} 1"));
    CHECK(has_sample(text, "memguardd_repairs_total 2"));
    CHECK(has_sample(text, "memguardd_blocked_packets_total{family=\"ipv4\",protocol=\"tcp\"} 7"));
    CHECK(has_sample(text, "memguardd_blocked_bytes_total{family=\"ipv4\",protocol=\"tcp\"} 420"));
    CHECK(has_sample(text, "memguardd_blocked_packets_total{family=\"ipv6\",protocol=\"udp\"} 3"));
    CHECK(has_sample(text, "memguardd_blocked_bytes_total{family=\"ipv6\",protocol=\"udp\"} 270"));
    CHECK(has_sample(text, "memguardd_last_apply_success_timestamp_seconds 1700000000.25"));
    CHECK(has_sample(text, "memguardd_verify_duration_seconds 0.0015"));
}

TEST_CASE("metrics: a figure the daemon does not have is left out, not made up", "[metrics]") {
    const std::string text = format_metrics(MetricsSnapshot{});
    // The families are there (HELP and TYPE), with no sample.
    CHECK(text.find("# TYPE memguardd_blocked_packets_total counter\n") != std::string::npos);
    CHECK(text.find("# TYPE memguardd_last_verify_success_timestamp_seconds gauge\n") !=
          std::string::npos);
    for (const auto& line : samples(text)) {
        INFO(line);
        CHECK_FALSE(line.starts_with("memguardd_blocked_"));
        CHECK_FALSE(line.starts_with("memguardd_last_"));
        CHECK_FALSE(line.starts_with("memguardd_verify_duration"));
        CHECK_FALSE(line.starts_with("memguardd_backend_info"));
        CHECK_FALSE(line.starts_with("memguardd_drift_total"));
    }
    CHECK(has_sample(text, "memguardd_in_sync 0"));
    CHECK(has_sample(text, "memguardd_reload_failures_total 0"));
}

TEST_CASE("metrics: temporary entries in force, granted and expired", "[metrics]") {
    MetricsRecorder m;
    m.temporary({2, 5, 3});
    const std::string text = memguard::format_metrics(m.snapshot());
    CHECK(text.find("# TYPE memguardd_temporary_entries gauge\n") != std::string::npos);
    CHECK(has_sample(text, "memguardd_temporary_entries 2"));
    CHECK(has_sample(text, "memguardd_temporary_granted_total 5"));
    CHECK(has_sample(text, "memguardd_temporary_expired_total 3"));
}

TEST_CASE("metrics: a verify pass counts drift by kind and a committed repair", "[metrics]") {
    MetricsRecorder m;
    m.pass(report({family(Family::ipv4, {"rule_missing", "rule_missing"}, true),
                   family(Family::ipv6, {"jump_shadowed"}, true)}),
           PassKind::verify, false, std::chrono::milliseconds(3), at_1700000000);
    const MetricsSnapshot& s = m.snapshot();
    CHECK(s.drift.at("rule_missing") == 2);
    CHECK(s.drift.at("jump_shadowed") == 1);
    CHECK(s.repairs == 1); // one pass, whatever the families
    CHECK(s.in_sync);
    CHECK(s.last_verify_success == 1700000000.0);
    CHECK(s.verify_duration == 0.003);
    CHECK_FALSE(s.last_apply_success);

    SECTION("a quiet pass adds nothing but its time") {
        m.pass(report({family(Family::ipv4, {}, false), family(Family::ipv6, {}, false)}),
               PassKind::verify, false, std::chrono::milliseconds(1),
               at_1700000000 + std::chrono::seconds(5));
        CHECK(s.repairs == 1);
        CHECK(s.drift.at("rule_missing") == 2);
        CHECK(s.last_verify_success == 1700000005.0);
        CHECK(s.verify_duration == 0.001);
    }
    SECTION("a failed pass is not in sync and keeps the last success's time") {
        auto failed = family(Family::ipv4, {"rule_missing"}, false);
        failed.error = "EPERM";
        m.pass(report({failed, family(Family::ipv6, {}, false)}), PassKind::verify, false,
               std::chrono::milliseconds(2), at_1700000000 + std::chrono::seconds(5));
        CHECK_FALSE(s.in_sync);
        CHECK(s.repairs == 1);
        CHECK(s.drift.at("rule_missing") == 3);
        CHECK(s.last_verify_success == 1700000000.0);
    }
}

TEST_CASE("metrics: apply passes count no drift, and failing closed is not in sync", "[metrics]") {
    MetricsRecorder m;
    m.pass(report({family(Family::ipv4, {"rule_missing"}, true)}), PassKind::apply, false, {},
           at_1700000000);
    CHECK(m.snapshot().drift.empty());
    CHECK(m.snapshot().repairs == 0);
    CHECK(m.snapshot().in_sync);
    CHECK(m.snapshot().last_apply_success == 1700000000.0);

    m.pass(report({family(Family::ipv4, {}, true)}), PassKind::apply, true, {},
           at_1700000000 + std::chrono::seconds(9));
    CHECK(m.snapshot().failing_closed);
    CHECK_FALSE(m.snapshot().in_sync);
    CHECK(m.snapshot().last_apply_success == 1700000000.0);

    auto closed = family(Family::ipv6, {}, true);
    closed.fail_closed = true;
    closed.error = "no ipset";
    m.pass(report({family(Family::ipv4, {}, false), closed}), PassKind::apply, false, {},
           at_1700000000 + std::chrono::seconds(10));
    CHECK(m.snapshot().failing_closed);
    CHECK_FALSE(m.snapshot().in_sync);
}

TEST_CASE("metrics: the last good policy in force is not in sync, and says when it was saved",
          "[metrics]") {
    MetricsRecorder m;
    memguard::RunningConfig running;
    running.origin = memguard::PolicyOrigin::last_good;
    running.loaded = 1690000001;
    running.config_invalid = true;
    m.config(running);
    m.pass(report({family(Family::ipv4, {}, false)}), PassKind::apply, false, {}, at_1700000000);
    CHECK_FALSE(m.snapshot().in_sync);
    CHECK_FALSE(m.snapshot().failing_closed);
    const std::string text = format_metrics(m.snapshot());
    CHECK(has_sample(text, "memguardd_config_valid 0"));
    CHECK(has_sample(text, "memguardd_last_good_policy_timestamp_seconds 1690000001"));

    // A reload that was rejected keeps the configured rules of the one before: in sync.
    running.origin = memguard::PolicyOrigin::config;
    m.config(running);
    m.pass(report({family(Family::ipv4, {}, false)}), PassKind::verify, false, {}, at_1700000000);
    CHECK(m.snapshot().in_sync);
    CHECK_FALSE(m.snapshot().last_good_saved);
    CHECK(has_sample(format_metrics(m.snapshot()), "memguardd_config_valid 0"));
    running.config_invalid = false;
    m.config(running);
    CHECK(has_sample(format_metrics(m.snapshot()), "memguardd_config_valid 1"));
}

TEST_CASE("metrics: revocations, conflicts and rejected reloads are counted", "[metrics]") {
    MetricsRecorder m;
    memguard::Pass pass;
    m.revocation(pass); // none swept
    pass.revocation.emplace();
    pass.revocation->cut.deleted = 4;
    m.revocation(pass);
    m.revocation(pass);
    CHECK(m.snapshot().revoked_connections == 8);

    using V = ConflictTracker::Verdict;
    m.conflict(V::report_drift);
    CHECK(m.snapshot().conflicts == 0);
    m.conflict(V::conflict_started);
    m.conflict(V::conflict_summary);
    CHECK(m.snapshot().conflicts == 1);
    CHECK(m.snapshot().in_conflict);
    m.conflict(V::conflict_ended);
    CHECK_FALSE(m.snapshot().in_conflict);

    m.reload_failed();
    CHECK(m.snapshot().reload_failures == 1);
    m.stopping();
    CHECK(has_sample(format_metrics(m.snapshot()), "memguardd_up 0"));
}

TEST_CASE("metrics: allowed networks per family and guard, each network once", "[metrics]") {
    memguard::Policy p;
    p.guards[0].allow = {net("10.1.0.0/16"), net("10.1.0.0/16"), net("2001:db8::/32")};
    memguard::GuardSpec pages;
    pages.name = "pages";
    pages.ports = {11212};
    pages.protocols = {Protocol::tcp};
    pages.reverse_path = {};
    pages.allow = {net("10.3.0.0/24"), net("10.4.0.0/24")};
    p.guards.push_back(pages);
    MetricsRecorder m;
    m.policy(p, "iptables-legacy");
    const std::string text = format_metrics(m.snapshot());
    CHECK(has_sample(text, "memguardd_backend_info{backend=\"iptables-legacy\"} 1"));
    CHECK(has_sample(text, "memguardd_allowed_networks{family=\"ipv4\",guard=\"default\"} 1"));
    CHECK(has_sample(text, "memguardd_allowed_networks{family=\"ipv6\",guard=\"default\"} 1"));
    CHECK(has_sample(text, "memguardd_allowed_networks{family=\"ipv4\",guard=\"pages\"} 2"));
    CHECK(has_sample(text, "memguardd_allowed_networks{family=\"ipv6\",guard=\"pages\"} 0"));
}

TEST_CASE("metrics: the file is replaced whole, 0644 whatever the umask, no temporary left",
          "[metrics]") {
    TempDir dir;
    const auto file = dir.path / "memguardd.prom";
    const mode_t old_umask = ::umask(077);
    const auto first = memguard::replace_file(file, "a 1\n", ::geteuid());
    const auto second = memguard::replace_file(file, "a 2\n", ::geteuid());
    ::umask(old_umask);
    REQUIRE_FALSE(first);
    REQUIRE_FALSE(second);
    CHECK(read(file) == "a 2\n");
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
        names.push_back(e.path().filename());
    }
    CHECK(names == std::vector<std::string>{"memguardd.prom"});

    CHECK_FALSE(memguard::remove_file(file, ::geteuid()));
    CHECK_FALSE(std::filesystem::exists(file));
    CHECK_FALSE(memguard::remove_file(file, ::geteuid())); // already gone: no error
}

TEST_CASE("metrics: a missing directory is ENOENT, and nothing is made", "[metrics]") {
    TempDir dir;
    const auto failed =
        memguard::replace_file(dir.path / "none" / "memguardd.prom", "a 1\n", ::geteuid());
    REQUIRE(failed);
    CHECK(failed->error == ENOENT);
    CHECK(failed->what.find((dir.path / "none").string()) != std::string::npos);
    CHECK(std::filesystem::is_empty(dir.path));
}

TEST_CASE("metrics: the file is written again when a figure moves, or once a minute", "[metrics]") {
    using memguard::metrics_write_needed;
    using memguard::MetricsWrite;
    using std::chrono::seconds;
    MetricsSnapshot written;
    written.in_sync = true;
    written.blocked = std::vector<BlockedCount>{{Family::ipv4, Protocol::tcp, 1, 60}};
    written.last_verify_success = 1000.0;
    written.verify_duration = 0.001;
    CHECK(metrics_write_needed(std::nullopt, written, seconds(0)) == MetricsWrite::durable);
    MetricsSnapshot before_verify = written; // the apply pass's file
    before_verify.last_verify_success.reset();
    before_verify.verify_duration.reset();
    CHECK(metrics_write_needed(before_verify, written, seconds(1)) == MetricsWrite::durable);

    MetricsSnapshot now = written; // another verify pass that found nothing new
    now.last_verify_success = 1001.0;
    now.verify_duration = 0.002;
    CHECK(metrics_write_needed(written, now, seconds(1)) == MetricsWrite::skip);
    CHECK(metrics_write_needed(written, now, memguard::metrics_refresh) == MetricsWrite::quick);

    now.blocked = std::vector<BlockedCount>{{Family::ipv4, Protocol::tcp, 2, 120}};
    CHECK(metrics_write_needed(written, now, seconds(1)) == MetricsWrite::quick);
    now.blocked.reset(); // the counters could not be read: a gap in the series, said at once
    CHECK(metrics_write_needed(written, now, seconds(1)) == MetricsWrite::quick);

    now.in_sync = false;
    CHECK(metrics_write_needed(written, now, seconds(1)) == MetricsWrite::durable);
    now = written;
    now.up = false;
    CHECK(metrics_write_needed(written, now, seconds(1)) == MetricsWrite::durable);
    now = written;
    ++now.repairs;
    CHECK(metrics_write_needed(written, now, seconds(1)) == MetricsWrite::durable);
}
