#include "snapshot.hpp"

#include "bytes.hpp"
#include "entry.hpp"
#include "fd.hpp"
#include "foreign_rules.hpp"

#include <libiptc/libiptc.h>
extern "C" {
#include <libiptc/libip6tc.h>
}
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace memguard::iptc {

namespace {

// The getsockopt requests and structs of each family; the entries walk is the same for both.
template <class Entry> struct Api;
template <> struct Api<ipt_entry> {
    using Info = ipt_getinfo;
    using Get = ipt_get_entries;
    static constexpr int domain = AF_INET;
    static constexpr int level = IPPROTO_IP;
    static constexpr int get_info = IPT_SO_GET_INFO;
    static constexpr int get_entries = IPT_SO_GET_ENTRIES;
};
template <> struct Api<ip6t_entry> {
    using Info = ip6t_getinfo;
    using Get = ip6t_get_entries;
    static constexpr int domain = AF_INET6;
    static constexpr int level = IPPROTO_IPV6;
    static constexpr int get_info = IP6T_SO_GET_INFO;
    static constexpr int get_entries = IP6T_SO_GET_ENTRIES;
};

// The kernel's encoding of ACCEPT, DROP, QUEUE and RETURN in a standard target's verdict.
const char* builtin_verdict(int verdict) {
    switch (verdict) {
    case -NF_ACCEPT - 1:
        return IPTC_LABEL_ACCEPT;
    case -NF_DROP - 1:
        return IPTC_LABEL_DROP;
    case -NF_QUEUE - 1:
        return IPTC_LABEL_QUEUE;
    case XT_RETURN:
        return IPTC_LABEL_RETURN;
    default:
        return nullptr;
    }
}

template <class Entry> class Walker {
public:
    Walker(Family family, std::span<const std::uint8_t> entries, SetNames sets)
        : family_(family), entries_(entries), sets_(std::move(sets)) {
        for (std::size_t off = 0; off < entries_.size(); off += entry(off).next_offset) {
            const auto e = entry(off);
            const std::string name = target_name(off, e);
            if (name == XT_ERROR_TARGET) {
                // A user chain's head; its rules start right after it, where jumps point.
                const auto error = read_at<xt_error_target>(entries_, off + e.target_offset);
                chain_at_[off + e.next_offset] =
                    bounded_name(error.errorname, sizeof error.errorname);
            } else if (name.empty()) { // a standard target: a verdict, or a jump to an offset
                const auto verdict =
                    read_at<xt_standard_target>(entries_, off + e.target_offset).verdict;
                if (verdict >= 0 && static_cast<std::size_t>(verdict) != off + e.next_offset) {
                    ++jumps_to_[static_cast<std::size_t>(verdict)];
                }
            }
        }
    }

    // The rules from `first` up to (not including) `end`.
    void read(std::size_t first, std::size_t end, std::vector<KernelRule>& out) const {
        for (std::size_t off = first; off < end; off += entry(off).next_offset) {
            const auto e = entry(off);
            const std::string target = libiptc_target(off, e);
            auto decoded =
                decode_entry(family_, entries_.subspan(off, e.next_offset), target, sets_);
            out.push_back({std::move(decoded.rule), std::move(decoded.comment), target,
                           decoded.packets, decoded.bytes});
        }
    }

    // How many entries in the whole table jump to the chain `name` (iptc_get_references),
    // counted in the walk the constructor makes anyway.
    [[nodiscard]] std::uint32_t references(std::string_view name) const {
        for (const auto& [start, chain] : chain_at_) {
            if (chain == name) {
                const auto it = jumps_to_.find(start);
                return it != jumps_to_.end() ? it->second : 0;
            }
        }
        return 0;
    }

    // Our chain's rules: between its head and its RETURN foot, which the next head follows.
    [[nodiscard]] bool read_chain(std::string_view name, std::vector<KernelRule>& out) const {
        for (const auto& [start, chain] : chain_at_) {
            if (chain != name) {
                continue;
            }
            if (start >= entries_.size()) {
                throw EntryError("chain " + std::string(name) + " has no RETURN entry");
            }
            std::size_t foot = start;
            for (std::size_t off = start; off < entries_.size(); off += entry(off).next_offset) {
                if (target_name(off, entry(off)) == XT_ERROR_TARGET) {
                    break;
                }
                foot = off;
            }
            read(start, foot, out);
            return true;
        }
        return false;
    }

private:
    // The entry header at `off`, checked to lie whole inside the entries.
    [[nodiscard]] Entry entry(std::size_t off) const {
        const auto e = read_at<Entry>(entries_, off);
        if (e.next_offset < sizeof(Entry) + sizeof(xt_entry_target) ||
            e.next_offset > entries_.size() - off || e.target_offset < sizeof(Entry) ||
            e.target_offset > e.next_offset - sizeof(xt_entry_target)) {
            throw EntryError("entry at offset " + std::to_string(off) + " has target_offset " +
                             std::to_string(e.target_offset) + " and next_offset " +
                             std::to_string(e.next_offset) + " in " +
                             std::to_string(entries_.size()) + " bytes");
        }
        return e;
    }

    [[nodiscard]] std::string target_name(std::size_t off, const Entry& e) const {
        const auto t = read_at<xt_entry_target>(entries_, off + e.target_offset);
        return bounded_name(t.u.user.name, sizeof t.u.user.name);
    }

    // The target as libiptc's iptc_get_target names it: a module's name, a verdict's label,
    // the chain a jump goes to, or "" for a fall-through to the next entry.
    [[nodiscard]] std::string libiptc_target(std::size_t off, const Entry& e) const {
        std::string name = target_name(off, e);
        if (!name.empty()) { // the standard target's name, XT_STANDARD_TARGET, is ""
            return name;
        }
        const auto verdict = read_at<xt_standard_target>(entries_, off + e.target_offset).verdict;
        if (verdict < 0) {
            const char* label = builtin_verdict(verdict);
            return label != nullptr ? label : "verdict " + std::to_string(verdict);
        }
        const auto to = static_cast<std::size_t>(verdict);
        if (to == off + e.next_offset) {
            return "";
        }
        const auto chain = chain_at_.find(to);
        return chain != chain_at_.end() ? chain->second : "offset " + std::to_string(to);
    }

    Family family_;
    std::span<const std::uint8_t> entries_;
    SetNames sets_;
    std::map<std::size_t, std::string> chain_at_;   // first-rule offset → user chain name
    std::map<std::size_t, std::uint32_t> jumps_to_; // offset → entries jumping there
};

void check_bounds(const char* chain, InputBounds bounds, std::size_t size) {
    if (bounds.first > bounds.policy || bounds.policy >= size) {
        throw EntryError(std::string(chain) + " spans offsets " + std::to_string(bounds.first) +
                         " to " + std::to_string(bounds.policy) + " in " + std::to_string(size) +
                         " bytes");
    }
}

template <class Entry>
MangleView parse_mangle(Family family, std::span<const std::uint8_t> entries, InputBounds forward,
                        InputBounds prerouting, const SetNames& sets) {
    check_bounds("FORWARD", forward, entries.size());
    check_bounds("PREROUTING", prerouting, entries.size());
    const Walker<Entry> walker(family, entries, sets);
    MangleView view;
    walker.read(forward.first, forward.policy, view.forward);
    walker.read(prerouting.first, prerouting.policy, view.prerouting);
    view.chain_exists = walker.read_chain(chain_name, view.chain);
    if (view.chain_exists) {
        view.chain_references = walker.references(chain_name);
    }
    return view;
}

template <class Entry>
KernelView parse(Family family, std::span<const std::uint8_t> entries, InputBounds input,
                 const SetNames& sets) {
    check_bounds("INPUT", input, entries.size());
    const Walker<Entry> walker(family, entries, sets);
    KernelView view;
    view.family = family;
    walker.read(input.first, input.policy, view.input);
    view.chain_exists = walker.read_chain(chain_name, view.chain);
    if (view.chain_exists) {
        view.chain_references = walker.references(chain_name);
    }
    return view;
}

template <class Entry> RawTable read(Family family, const char* table) {
    using A = Api<Entry>;
    const Fd fd(::socket(A::domain, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (!fd) {
        throw_read_error(family, errno, std::strerror(errno), table);
    }
    // The table may be replaced between the two calls (EAGAIN: its size changed); ask again.
    for (int attempt = 0;; ++attempt) {
        typename A::Info info{};
        std::strncpy(info.name, table, sizeof info.name - 1);
        socklen_t len = sizeof info;
        if (::getsockopt(fd.get(), A::level, A::get_info, &info, &len) != 0) {
            throw_read_error(family, errno, std::strerror(errno), table);
        }
        // The request header, then the entries; both in the words, for the entries' alignment.
        constexpr std::size_t header = offsetof(typename A::Get, entrytable);
        static_assert(header % sizeof(std::uint64_t) == 0);
        RawTable raw;
        raw.words.resize((header + info.size + 7) / 8);
        auto* get = reinterpret_cast<typename A::Get*>(raw.words.data());
        std::strncpy(get->name, table, sizeof get->name - 1);
        get->size = info.size;
        len = static_cast<socklen_t>(header + info.size);
        if (::getsockopt(fd.get(), A::level, A::get_entries, get, &len) != 0) {
            if (errno == EAGAIN && attempt < 10) {
                continue;
            }
            throw_read_error(family, errno, std::strerror(errno), table);
        }
        raw.offset = header;
        raw.size = info.size;
        raw.input = {info.hook_entry[NF_INET_LOCAL_IN], info.underflow[NF_INET_LOCAL_IN]};
        raw.forward = {info.hook_entry[NF_INET_FORWARD], info.underflow[NF_INET_FORWARD]};
        raw.prerouting = {info.hook_entry[NF_INET_PRE_ROUTING],
                          info.underflow[NF_INET_PRE_ROUTING]};
        return raw;
    }
}

} // namespace

RawTable read_raw(Family family, const char* table) {
    return family == Family::ipv4 ? read<ipt_entry>(family, table)
                                  : read<ip6t_entry>(family, table);
}

KernelView read_snapshot(Family family) {
    const RawTable raw = read_raw(family);
    const SetNames sets = kernel_set_names();
    KernelView view = parse_snapshot(family, raw.entries(), raw.input, sets);
    // Asking for a table the namespace does not have yet makes the kernel create it (and hook
    // it into every packet's path): a read must not. Not there yet: nothing of ours in it. A
    // kernel that cannot have one at all is found out when a transaction opens it to write.
    if (!legacy_table_exists(family, "mangle")) {
        view.mangle = MangleView{};
        return view;
    }
    std::optional<RawTable> mangle;
    try {
        mangle = read_raw(family, "mangle");
    } catch (const LegacyTablesMissing&) {
        return view; // no mangle table: view.mangle stays nullopt, the backend says what it means
    }
    view.mangle =
        parse_mangle_snapshot(family, mangle->entries(), mangle->forward, mangle->prerouting, sets);
    return view;
}

MangleView parse_mangle_snapshot(Family family, std::span<const std::uint8_t> entries,
                                 InputBounds forward, InputBounds prerouting,
                                 const SetNames& sets) {
    return family == Family::ipv4
               ? parse_mangle<ipt_entry>(family, entries, forward, prerouting, sets)
               : parse_mangle<ip6t_entry>(family, entries, forward, prerouting, sets);
}

KernelView parse_snapshot(Family family, std::span<const std::uint8_t> entries, InputBounds input,
                          const SetNames& sets) {
    return family == Family::ipv4 ? parse<ipt_entry>(family, entries, input, sets)
                                  : parse<ip6t_entry>(family, entries, input, sets);
}

void throw_read_error(Family family, int error, const std::string& reason, const char* table) {
    const bool v4 = family == Family::ipv4;
    const std::string name(to_string(family));
    // No ip_tables/ip6_tables in the kernel: the socket option is unknown (ENOPROTOOPT), or
    // the filter table module is missing (ENOENT).
    if (std::string_view(table) == "mangle" &&
        (error == ENOPROTOOPT || error == ENOENT || error == EAFNOSUPPORT)) {
        throw LegacyTablesMissing(name + ": this kernel has no legacy " +
                                      (v4 ? "iptables" : "ip6tables") + " mangle table (" +
                                      (v4 ? "iptable_mangle, CONFIG_IP_NF_MANGLE"
                                          : "ip6table_mangle, CONFIG_IP6_NF_MANGLE") +
                                      "): " + reason,
                                  error);
    }
    if (error == ENOPROTOOPT || error == ENOENT || error == EAFNOSUPPORT) {
        throw LegacyTablesMissing(name + ": this kernel has no legacy " +
                                      (v4 ? "iptables" : "ip6tables") +
                                      " filter table (x_tables; CONFIG_NETFILTER_XTABLES_LEGACY, " +
                                      (v4 ? "CONFIG_IP_NF_FILTER" : "CONFIG_IP6_NF_FILTER") +
                                      "), so memguardd cannot install its rules: " + reason,
                                  error);
    }
    throw KernelError(name + ": cannot read the " + table + " table: " + reason, error);
}

} // namespace memguard::iptc
