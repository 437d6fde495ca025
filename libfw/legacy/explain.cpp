// `memguardd explain`'s look at the legacy tables, from the same lock-free snapshot verify reads
// and by the same rule of what is ours: the accept rules of ours in MEMGUARD whose `-s` or ipset
// holds the address, and other tools' rules in INPUT above our jumps that decide first.
#include "legacy_backend.hpp"
#include "ownership.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace memguard {

namespace {

std::string label_of(const std::string& comment) {
    return comment.starts_with(label_prefix) ? comment.substr(label_prefix.size()) : "";
}

KernelMatch match_of(const Rule& rule, std::string where, std::string element) {
    KernelMatch m;
    m.family = rule.family;
    m.protocol = rule.proto;
    m.port = rule.dport;
    m.where = std::move(where);
    m.element = std::move(element);
    m.label = label_of(rule.comment);
    return m;
}

// One accept rule of ours in MEMGUARD: its -s, each member of its set, or -i lo.
void add_rule(const KernelView& view, const Rule& rule, const Network& address,
              KernelExplain& out) {
    const std::string chain = "-A " + std::string(chain_name) + " ";
    if (rule.src && rule.src->contains(address)) {
        out.matches.push_back(
            match_of(rule, "chain " + std::string(chain_name), chain + to_string(rule)));
    } else if (!rule.src_set.empty()) {
        const auto set = view.sets.find(rule.src_set);
        if (set == view.sets.end() || !set->second.members_readable) {
            return;
        }
        for (const auto& member : set->second.members) {
            if (member.contains(address)) {
                out.matches.push_back(match_of(rule, "ipset " + rule.src_set, member.to_string()));
            }
        }
    } else if (!rule.src && rule.in_iface == "lo" && address.is_loopback()) {
        KernelMatch m = match_of(rule, "chain " + std::string(chain_name), chain + to_string(rule));
        m.loopback = true;
        out.matches.push_back(std::move(m));
    }
}

// Targets that log or mark and let the packet go on to our jumps.
bool passes_on(std::string_view target) {
    constexpr std::array<std::string_view, 8> going_on{"",         "LOG", "NFLOG", "MARK",
                                                       "CONNMARK", "CT",  "AUDIT", "TRACE"};
    return std::ranges::find(going_on, target) != going_on.end();
}

// INPUT's rules above the first of our jumps that accept, drop or send elsewhere first.
void add_ahead(const KernelView& view, const Network& address, KernelExplain& out) {
    for (std::size_t i = 0; i < view.input.size(); ++i) {
        const KernelRule& k = view.input[i];
        if (k.ours()) {
            return;
        }
        if (passes_on(k.target) || (k.rule && k.rule->src && !k.rule->src->contains(address))) {
            continue;
        }
        RuleAhead a;
        a.family = view.family;
        a.where = std::string(input_chain) + " rule " + std::to_string(i + 1);
        a.text = "-A " + std::string(input_chain) + " " +
                 (k.rule ? to_string(*k.rule) : "(not memguardd's, not fully read) -j " + k.target);
        if (k.rule) {
            a.protocol = k.rule->proto;
            if (k.rule->dport) {
                a.ports = netlink::PortRange{*k.rule->dport, *k.rule->dport};
            }
            a.certain = k.rule->src_set.empty() && k.rule->in_iface.empty();
        }
        out.ahead.push_back(std::move(a));
    }
}

} // namespace

KernelExplain explain_in(const KernelView& view, const Network& address) {
    KernelExplain out;
    add_ahead(view, address, out);
    if (!view.chain_exists || !claim(view).chain) {
        return out;
    }
    out.looked_in.push_back("chain " + std::string(chain_name));
    for (const auto& name : sets_matched(view)) {
        out.looked_in.push_back("ipset " + name);
    }
    for (const auto& k : view.chain) {
        if (k.ours() && k.rule && k.rule->verdict == Verdict::accept) {
            add_rule(view, *k.rule, address, out);
        }
    }
    return out;
}

KernelExplain LegacyBackend::explain(const Network& address) {
    return explain_in(read_family(address.family), address);
}

} // namespace memguard
