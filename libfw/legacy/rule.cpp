#include "rule.hpp"

#include <algorithm>
#include <utility>

namespace memguard {

std::string our_comment(std::string_view label) {
    return label.empty() ? std::string(comment_tag)
                         : std::string(label_prefix) + std::string(label);
}

bool is_our_comment(std::string_view comment) {
    return comment == comment_tag || comment.starts_with(label_prefix);
}

std::string set_name(Family family, std::string_view guard) {
    std::string name = family == Family::ipv4 ? "memguard4" : "memguard6";
    if (guard != default_guard_name) {
        name += "-" + std::string(guard);
    }
    return name;
}

bool is_our_set_name(Family family, std::string_view name) {
    const std::string base = set_name(family);
    if (name == base) {
        return true;
    }
    if (!name.starts_with(base + "-")) {
        return false;
    }
    // The guard name's rule: ^[a-z0-9][a-z0-9_-]{0,19}$
    const std::string_view guard = name.substr(base.size() + 1);
    const auto allowed = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               (!first && (c == '_' || c == '-'));
    };
    if (guard.empty() || guard.size() > 20 || guard == default_guard_name) {
        return false;
    }
    for (std::size_t i = 0; i < guard.size(); ++i) {
        if (!allowed(guard[i], i == 0)) {
            return false;
        }
    }
    return true;
}

std::string addr_type_names(std::uint16_t types) {
    constexpr std::pair<std::uint16_t, std::string_view> names[] = {
        {addr_type::local, "LOCAL"},
        {addr_type::broadcast, "BROADCAST"},
        {addr_type::anycast, "ANYCAST"},
        {addr_type::multicast, "MULTICAST"},
    };
    std::string out;
    for (const auto& [bit, name] : names) {
        if ((types & bit) != 0) {
            out += (out.empty() ? "" : ",") + std::string(name);
        }
    }
    return out;
}

namespace {

// An argument as iptables-save prints it (xtables_save_string): bare when it is only letters,
// digits, '_' and '-', else in double quotes with '"', '\\' and '\'' escaped.
std::string saved_string(std::string_view value) {
    const auto bare = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    };
    if (!value.empty() && std::ranges::all_of(value, bare)) {
        return std::string(value);
    }
    std::string out = "\"";
    for (const char c : value) {
        if (c == '"' || c == '\\' || c == '\'') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

std::string_view verdict_spelling(const Rule& r) {
    switch (r.verdict) {
    case Verdict::accept:
        return "-j ACCEPT";
    case Verdict::drop:
        return "-j DROP";
    case Verdict::jump_memguard:
        return "-j MEMGUARD";
    case Verdict::nflog:
        return "";
    case Verdict::reject:
        if (r.reject_with == RejectWith::tcp_reset) {
            return "-j REJECT --reject-with tcp-reset";
        }
        return r.family == Family::ipv4 ? "-j REJECT --reject-with icmp-port-unreachable"
                                        : "-j REJECT --reject-with icmp6-port-unreachable";
    }
    return "-j (a verdict this build does not know)"; // a value outside the enum
}

} // namespace

std::string to_string(const Rule& r) {
    std::string out;
    auto add = [&out](std::string_view part) {
        if (!out.empty()) {
            out += ' ';
        }
        out += part;
    };
    if (r.src) {
        Network shown = *r.src;
        add("-s " + shown.to_string() +
            (shown.prefix == shown.max_prefix() ? (r.family == Family::ipv4 ? "/32" : "/128")
                                                : ""));
    }
    if (!r.in_iface.empty()) {
        add("-i " + r.in_iface);
    }
    if (r.proto) {
        add("-p " + std::string(to_string(*r.proto)));
        if (r.dport) {
            add("-m " + std::string(to_string(*r.proto)) + " --dport " + std::to_string(*r.dport));
        }
    }
    if (r.related_established) {
        add("-m conntrack --ctstate RELATED,ESTABLISHED");
    }
    if (r.dnat_port) { // iptables-save's order, not the order iptables takes the options in
        add("-m conntrack --ctstate DNAT --ctorigdstport " + std::to_string(*r.dnat_port) +
            " --ctdir ORIGINAL");
    }
    if (r.dst_types != 0) {
        add("-m addrtype --dst-type " + addr_type_names(r.dst_types));
    }
    if (r.rpfilter_failed) {
        add("-m rpfilter --invert");
    }
    if (!r.src_set.empty()) {
        add("-m set --match-set " + r.src_set + " src");
    }
    if (r.limit) {
        add("-m limit --limit " + std::to_string(r.limit->per_second) + "/sec");
        if (r.limit->burst != 5) { // libxt_limit's default, which iptables-save leaves out
            add("--limit-burst " + std::to_string(r.limit->burst));
        }
    }
    if (!r.comment.empty()) {
        add("-m comment --comment " + saved_string(r.comment));
    }
    if (r.verdict == Verdict::nflog) {
        add("-j NFLOG --nflog-prefix " + std::string(comment_tag) + " --nflog-group " +
            std::to_string(r.nflog_group));
    } else {
        add(verdict_spelling(r));
    }
    return out;
}

} // namespace memguard
