// The config path scales: an allowlist of 200,000 networks goes through reading, validation,
// warnings, all_networks, labels and the desired state in O(n log n). Timed against a quarter of
// the list in the same run, so that neither the machine nor a sanitizer build decides: n log n
// grows about 4.4× from 50,000 to 200,000 networks, anything quadratic 16×.
#include "support.hpp"

#include "config.hpp"
#include "config_warnings.hpp"
#include "desired.hpp"
#include "labels.hpp"
#include "temp_dir.hpp"

#include <cstdint>
#include <ctime>
#include <string>

using namespace memguard;

namespace {

// "10.0.0.0/32", "10.0.0.2/32", ... and "2001:db8:0:0::/64", "2001:db8:0:2::/64", ...: every
// other address, so that no two entries are one interval. Every 10th entry has a label.
std::string entry(std::size_t i, std::size_t per_family) {
    const bool v4 = i < per_family;
    const auto n = static_cast<std::uint32_t>(2 * (v4 ? i : i - per_family));
    char text[64];
    if (v4) {
        const std::uint32_t a = 0x0A000000U + n;
        std::snprintf(text, sizeof text, "\"%u.%u.%u.%u/32\"", a >> 24, (a >> 16) & 255U,
                      (a >> 8) & 255U, a & 255U);
    } else {
        std::snprintf(text, sizeof text, "\"2001:db8:%x:%x::/64\"", n >> 16, n & 0xffffU);
    }
    if (i % 10 == 0) {
        return std::string(R"({"net": )") + text + R"(, "comment": "host )" + std::to_string(i) +
               "\"}";
    }
    return text;
}

// `networks` entries, half of them IPv4, in the main file and fragments of 10,000 entries.
void write_config(const unit::TempDir& dir, const std::string& name, std::size_t networks) {
    constexpr std::size_t per_file = 10000;
    const std::size_t per_family = networks / 2;
    const std::string fragments = dir.dir(name + ".d", 0700);
    for (std::size_t start = 0; start < networks; start += per_file) {
        std::string text = start == 0 ? R"({"metrics_file": null, "allow": [)" : R"({"allow": [)";
        for (std::size_t i = start; i < std::min(networks, start + per_file); ++i) {
            text += (i == start ? "" : ",\n") + entry(i, per_family);
        }
        text += "]}\n";
        const std::string file =
            start == 0 ? name + ".json" : name + ".d/" + std::to_string(start) + ".json";
        (void)dir.file(file, text, 0600);
    }
}

double thread_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// CPU seconds for what `memguardd check` and a daemon's start do with the config.
double config_path_seconds(const std::string& path, std::size_t networks) {
    const double start = thread_cpu_seconds();
    const Policy policy = load_config(path, {::geteuid()});
    const auto warnings = config_warnings(policy);
    const auto allowed = all_networks(policy);
    const LabelIndex labels(policy);
    const Desired desired = desired_state(policy);
    const double took = thread_cpu_seconds() - start;
    CHECK(warnings.empty());
    CHECK(allowed.size() == networks);
    CHECK(desired.ipv4.guards.front().allow.size() == networks / 2);
    CHECK(desired.ipv6.guards.front().labels.size() == networks / 20);
    CHECK(labels.label_of(*parse_network("10.0.0.0")) == "host 0");
    return took;
}

} // namespace

TEST_CASE("scale: 200,000 networks through the config path take no quadratic time") {
    const unit::TempDir dir;
    write_config(dir, "quarter", 50000);
    write_config(dir, "full", 200000);
    const double quarter = config_path_seconds(dir.path() + "/quarter.json", 50000);
    const double full = config_path_seconds(dir.path() + "/full.json", 200000);
    INFO("50,000 networks: " << quarter << " s CPU, 200,000: " << full << " s CPU");
    CHECK(full < 8 * quarter + 0.5);
    CHECK(full < 20.0); // what an ASan build takes is a few seconds
}
