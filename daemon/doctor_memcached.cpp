// doctor: a memcached listening on a port the config does not list: no rule of
// memguardd's stands in front of it. Its sockets are told apart from others' by inode: sock_diag
// gives each listening socket's inode, /proc/PID/fd/* links to "socket:[INODE]" (proc(5)).
#include "doctor.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

namespace memguard::doctor {

namespace {

namespace fs = std::filesystem;

// "socket:[12345]" → 12345
std::optional<std::uint32_t> socket_inode(const std::string& link) {
    constexpr std::string_view prefix = "socket:[";
    if (!link.starts_with(prefix) || !link.ends_with(']')) {
        return std::nullopt;
    }
    try {
        return static_cast<std::uint32_t>(std::stoul(link.substr(prefix.size())));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool is_memcached(const fs::path& process) {
    std::ifstream comm(process / "comm");
    std::string name;
    return std::getline(comm, name) && name == "memcached";
}

// Socket inode → pid, for every socket a process named memcached holds open. Processes come and
// go while this runs: what vanishes is skipped.
std::map<std::uint32_t, std::string> memcached_sockets() {
    std::map<std::uint32_t, std::string> out;
    std::error_code ec;
    for (auto p = fs::directory_iterator("/proc", ec); !ec && p != fs::directory_iterator();
         p.increment(ec)) {
        const std::string pid = p->path().filename();
        if (pid.empty() || !std::ranges::all_of(pid, [](char c) { return std::isdigit(c); }) ||
            !is_memcached(p->path())) {
            continue;
        }
        std::error_code fd_ec;
        for (auto fd = fs::directory_iterator(p->path() / "fd", fd_ec);
             !fd_ec && fd != fs::directory_iterator(); fd.increment(fd_ec)) {
            std::error_code link_ec;
            if (const auto inode = socket_inode(fs::read_symlink(fd->path(), link_ec).string())) {
                out.emplace(*inode, pid);
            }
        }
    }
    return out;
}

} // namespace

void check_memcached_ports(Doctor& d, const Policy& policy, const std::string& config_path) {
    const auto owners = memcached_sockets();
    if (owners.empty()) {
        return;
    }
    for (const auto& s : netlink::listening_sockets({})) {
        const auto owner = owners.find(s.inode);
        if (owner == owners.end() || std::ranges::count(all_ports(policy), s.port) > 0) {
            continue;
        }
        const std::string who = "memcached (pid " + owner->second + ") listens on " + where(s);
        if (loopback(s.address)) {
            ok(who + ", a port memguardd does not guard, on loopback only");
            continue;
        }
        d.finding(Severity::note,
                  who + ", a port memguardd does not guard: every host that reaches this one "
                        "reaches it",
                  "add " + std::to_string(s.port) + " to \"ports\" in " + config_path + ", " +
                      then_reload(config_path) + "; or move memcached to a guarded port (-p" +
                      (s.protocol == Protocol::udp ? "/-U" : "") + " in /etc/memcached.conf)");
    }
}

} // namespace memguard::doctor
