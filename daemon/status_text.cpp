#include "status_text.hpp"

#include "duration.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace memguard {

namespace {

using nlohmann::json;
using Lines = std::vector<std::string>;

// A summary section: appends its lines (none when it has nothing to say). A new line of the
// summary is one more such function in `summary_sections`.
using Section = void (*)(const json& status, Lines& out);

constexpr std::size_t guards_shown = 4;

// Something wrong, and what to do about it, on one line.
void problem(Lines& out, const std::string& what, const std::string& fix) {
    out.push_back("WARNING: " + what + "; fix: " + fix);
}

const json& daemon_of(const json& s) {
    return s["daemon"];
}

bool running(const json& s) {
    return daemon_of(s).is_object();
}

void daemon_line(const json& s, Lines& out) {
    if (!running(s)) {
        out.emplace_back("memguardd: not running in this network namespace");
        return;
    }
    const json& d = daemon_of(s);
    out.push_back("memguardd: running, pid " + std::to_string(d.value("pid", 0)) + ", since " +
                  d.value("started", "?") + ", version " + d.value("version", "?"));
}

void sync_line(const json& s, Lines& out) {
    const std::string config = "config " + s.value("config", "?") + ": ";
    if (s["in_sync"].is_null()) {
        out.push_back(config + "INVALID");
    } else {
        out.push_back(config + (s["in_sync"].get<bool>() ? "in sync" : "DIFFERS from the kernel"));
    }
}

void backend_line(const json& s, Lines& out) {
    out.push_back("backend " + s.value("backend", "?") + " (" + s.value("backend_why", "?") + ")");
}

// "tcp/udp 11211, 11212"
std::string ports_text(const json& guard) {
    std::string protocols;
    for (const auto& p : guard["protocols"]) {
        protocols += (protocols.empty() ? "" : "/") + p.get<std::string>();
    }
    std::string ports;
    for (const auto& port : guard["ports"]) {
        ports += (ports.empty() ? "" : ", ") + std::to_string(port.get<int>());
    }
    return protocols + " " + ports;
}

// "guard pages (tcp 11212, 11213): 2 network(s) allowed, 1 labelled"
void guard_lines(const json& s, Lines& out) {
    const json guards = s.value("guards", json::array());
    for (std::size_t i = 0; i < guards.size() && i < guards_shown; ++i) {
        const json& g = guards[i];
        const auto labelled = g.value("labelled", std::size_t{0});
        out.push_back("guard " + g["name"].get<std::string>() + " (" + ports_text(g) + "): " +
                      std::to_string(g.value("allowed", std::size_t{0})) + " network(s) allowed" +
                      (labelled > 0 ? ", " + std::to_string(labelled) + " labelled" : ""));
    }
    if (guards.size() > guards_shown) {
        out.push_back("... and " + std::to_string(guards.size() - guards_shown) +
                      " more guard(s) (status --verbose lists them)");
    }
}

// One line per temporary entry (`memguardd allow --for`), or their count when there are more
// than 3 (--json has them all).
void temporary_lines(const json& s, Lines& out) {
    if (!running(s)) {
        return;
    }
    const json entries = daemon_of(s).value("temporary", json::array());
    if (entries.size() > 3) {
        out.push_back(std::to_string(entries.size()) +
                      " temporary entries (memguardd status --json lists them)");
        return;
    }
    for (const auto& e : entries) {
        const json comment = e.value("comment", json());
        out.push_back("temporary " + e.value("net", "?") +
                      (comment.is_string() ? " \"" + comment.get<std::string>() + "\"" : "") +
                      " in guard " + e.value("guard", "?") + " until " + e.value("expires", "?") +
                      " (" + format_duration(std::chrono::seconds(e.value("expires_in_s", 0))) +
                      " left)");
    }
}

void passes_line(const json& s, Lines& out) {
    if (!running(s)) {
        return;
    }
    const json& d = daemon_of(s);
    // When a status of the unchanged config takes in sync from the daemon, this says as of when.
    const json last_pass = d.value("last_pass", json());
    out.push_back("last apply " + d.value("last_apply", "never") + ", last repair " +
                  d.value("last_repair", "never") + " (" +
                  std::to_string(d.value("repairs", 0ULL)) + " repair(s) since the start)" +
                  (last_pass.is_string() ? ", last pass " + last_pass.get<std::string>() : ""));
    if (const auto drift = d.value("last_drift", ""); !drift.empty()) {
        out.push_back("last drift: " + drift);
    }
}

void daemon_problems(const json& s, Lines& out) {
    if (!running(s)) {
        problem(out, "memguardd is not running: nothing keeps the rules in place",
                "systemctl start memguardd");
        return;
    }
    const json& d = daemon_of(s);
    if (d.value("fail_closed", false)) {
        problem(out,
                std::string("FAILING CLOSED") +
                    (d.value("config_invalid", false) ? ": the config is invalid" : ""),
                "memguardd check names what is wrong; correct it, then systemctl reload "
                "memguardd");
    }
    for (const auto& f : d.value("families", json::array())) {
        const std::string family = f.value("family", "?");
        if (const auto scope = f.value("closed_scope", ""); !scope.empty()) {
            problem(out, std::string(family).append(": failing closed: ").append(scope),
                    "journalctl -u memguardd says why");
        }
        if (const auto error = f.value("error", ""); !error.empty()) {
            problem(out, std::string(family).append(": ").append(error),
                    "journalctl -u memguardd says more");
        }
        for (const auto& line : f.value("refused", json::array())) {
            problem(out, line.get<std::string>(),
                    "find out whose it is; memguardd leaves it alone and fails closed");
        }
    }
}

void config_problems(const json& s, Lines& out) {
    const std::string config = s.value("config", "?");
    if (s["in_sync"].is_null() && !s.value("last_good", "").empty()) {
        return; // running_config_lines said it, with the last good policy that runs instead
    }
    if (s["in_sync"].is_null()) {
        problem(out, "the config is invalid: " + s.value("config_error", "?"),
                "memguardd check " + config +
                    " names what is wrong; correct it, then "
                    "systemctl reload memguardd");
    } else if (!s["in_sync"].get<bool>()) {
        problem(out, "the kernel does not hold the rules the config asks for",
                running(s) ? "memguardd diff shows how; memguardd verify repairs it now"
                           : "memguardd diff shows how; systemctl start memguardd");
    }
}

// The daemon runs the last good policy (the config on disk is invalid), or the config on disk is
// not what it runs.
void running_config_lines(const json& s, Lines& out) {
    if (const auto line = s.value("last_good", ""); !line.empty()) {
        problem(out, "memguardd is " + line,
                "memguardd check names what is wrong; correct it, then systemctl reload "
                "memguardd");
        return; // the file on disk is the invalid one named: nothing more to say of it
    }
    if (const auto line = s.value("config_on_disk", ""); !line.empty()) {
        out.push_back("config " + s.value("config", "?") + ": " + line);
    }
}

void squatter_problem(const json& s, Lines& out) {
    if (!s["squatter"].is_null()) {
        problem(out, s["squatter"].get<std::string>(),
                "find out what it is (ps -p PID) and stop it");
    }
}

constexpr Section summary_sections[] = {
    daemon_line, sync_line,       backend_line,         guard_lines,     temporary_lines,
    passes_line, daemon_problems, running_config_lines, config_problems, squatter_problem,
};

// ---- --verbose ----------------------------------------------------------------------------

std::string rule_line(const json& r) {
    char counters[64];
    std::snprintf(counters, sizeof counters, "    %3zu %12llu pkts %14llu bytes  ",
                  r["position"].get<std::size_t>(),
                  static_cast<unsigned long long>(r["packets"].get<std::uint64_t>()),
                  static_cast<unsigned long long>(r["bytes"].get<std::uint64_t>()));
    return counters + r["rule"].get<std::string>();
}

void rule_lines(const std::string& title, const json& rules, bool ours_only, Lines& out) {
    out.push_back("  " + title);
    for (const auto& r : rules) {
        if (!ours_only || r["ours"].get<bool>()) {
            out.push_back(rule_line(r));
        }
    }
}

bool any_of_ours(const json& f) {
    return std::ranges::any_of(f["chains"],
                               [](const json& c) {
                                   return (c["exists"].get<bool>() && c["ours"].get<bool>()) ||
                                          std::ranges::any_of(c["rules"], [](const json& r) {
                                              return r["ours"].get<bool>();
                                          });
                               }) ||
           !f["sets"].empty();
}

void set_line(const json& set, Lines& out) {
    out.push_back(
        "  set " + set["name"].get<std::string>() + ": " +
        std::to_string(set["members"].get<std::size_t>()) + " member(s)" +
        (set["usable"].get<bool>() ? "" : ", NOT a set of plain networks of this family") +
        (set["ours"].get<bool>() ? "" : ", NOT memguardd's"));
}

void family_lines(const json& f, Lines& out) {
    const auto family = f["family"].get<std::string>();
    if (!any_of_ours(f)) {
        out.push_back(family + ": nothing of memguardd's in the kernel");
        return;
    }
    out.push_back(family + ":");
    for (const auto& c : f["chains"]) {
        const auto name = c["name"].get<std::string>();
        if (!c["exists"].get<bool>()) {
            out.push_back("  " + name + ": missing");
        } else if (c["ours"].get<bool>()) {
            rule_lines(name + ":", c["rules"], false, out);
        } else {
            rule_lines(std::string(name).append(" (memguardd's rules; position in ").append(name) +
                           "):",
                       c["rules"], true, out);
        }
    }
    for (const auto& set : f["sets"]) {
        set_line(set, out);
    }
}

// Every guard (the summary shows the first few), with its labelled entries:
// `guard pages (tcp 11212): 10.3.0.0/24 "web tier"`.
void label_lines(const json& s, Lines& out) {
    for (const auto& g : s.value("guards", json::array())) {
        std::string labelled;
        for (const auto& e : g["allow"]) {
            if (!e["label"].is_null()) {
                labelled += (labelled.empty() ? "" : ", ") + e["net"].get<std::string>() + " \"" +
                            e["label"].get<std::string>() + "\"";
            }
        }
        out.push_back("guard " + g["name"].get<std::string>() + " (" + ports_text(g) +
                      "): " + (labelled.empty() ? "no labelled entries" : labelled));
    }
}

} // namespace

std::vector<std::string> status_summary(const json& status) {
    Lines out;
    for (const Section section : summary_sections) {
        section(status, out);
    }
    return out;
}

std::vector<std::string> status_details(const json& status) {
    Lines out;
    for (const auto& f : status["families"]) {
        family_lines(f, out);
    }
    label_lines(status, out);
    out.push_back("backend " + status.value("backend", "?") + ": " +
                  status.value("how_to_see", "?"));
    return out;
}

} // namespace memguard
