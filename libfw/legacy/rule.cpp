#include "rule.hpp"

namespace memguard {

namespace {

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
    return "-j ?";
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
    if (r.dst_local) {
        add("-m addrtype --dst-type LOCAL");
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
        add("-m comment --comment " + r.comment);
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
