// Ipset against the kernel, inside the namespace netns_main.cpp made (ipset sets, like
// iptables tables, belong to a network namespace). The `ipset` command is the oracle: what we
// write is read back with `ipset save`, not only with our own parser.
// glibc's netinet/in.h must come before the kernel's headers, which otherwise define in_addr.
#include <netinet/in.h>
#include <sys/socket.h>

#include "netns_support.hpp"
#include "support.hpp"

#include "fd.hpp"
#include "netlink/ipset.hpp"
#include "netlink/socket.hpp"

#include <linux/netfilter/xt_set.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <sstream>

using memguard::Family;
using memguard::Network;
using memguard::netlink::Ipset;
using memguard::netlink::ipset_index;
using memguard::netlink::ipset_name;
using memguard::netlink::IpsetHeader;
using memguard::netlink::NetlinkError;

namespace {

// Never against the machine's own sets and tables: this process must be in a namespace of its
// own (netns_main.cpp's unshare), not in the one it was started in, its parent's.
bool in_own_namespace() {
    std::array<char, 64> self{};
    std::array<char, 64> parent{};
    const std::string parent_ns = "/proc/" + std::to_string(getppid()) + "/ns/net";
    const ssize_t a = readlink("/proc/self/ns/net", self.data(), self.size() - 1);
    const ssize_t b = readlink(parent_ns.c_str(), parent.data(), parent.size() - 1);
    return a > 0 && b > 0 && std::string(self.data()) != std::string(parent.data());
}

// Every test starts without rules and without the sets it names (when the binary runs all tests
// in one process, they share one namespace).
void fresh(std::initializer_list<const char*> sets) {
    REQUIRE(in_own_namespace());
    REQUIRE(test::run("command -v ipset >/dev/null") == 0);
    REQUIRE(test::run("iptables-legacy -F INPUT") == 0);
    for (const char* set : sets) {
        test::run(std::string("ipset destroy ") + set + " 2>/dev/null");
    }
}

// The members `ipset save NAME` prints ("add NAME 10.0.0.1", "add NAME 2001:db8:0:0:1::/80"),
// parsed, sorted.
std::vector<Network> saved_members(const std::string& set) {
    std::istringstream lines(test::capture("ipset save " + set));
    std::vector<Network> out;
    std::string line;
    const std::string prefix = "add " + set + " ";
    while (std::getline(lines, line)) {
        if (line.rfind(prefix, 0) == 0) {
            out.push_back(test::net(line.substr(prefix.size()).c_str()));
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The `create` line of `ipset save NAME`.
std::string saved_create(const std::string& set) {
    const std::string text = test::capture("ipset save " + set);
    return text.substr(0, text.find('\n'));
}

// 10,000 full-length prefixes counting up from `first`, then `prefixes`.
std::vector<Network> many(const char* first, std::initializer_list<const char*> prefixes) {
    std::vector<Network> out;
    Network host = test::net(first);
    for (int i = 0; i < 10000; ++i) {
        out.push_back(host);
        for (std::size_t b = host.size(); b-- > 0;) { // big-endian increment
            if (++host.addr[b] != 0) {
                break;
            }
        }
    }
    for (const char* p : prefixes) {
        out.push_back(test::net(p));
    }
    return out;
}

std::vector<Network> sorted(std::vector<Network> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// What a NetlinkError says and its errno, from `f`; {"", 0} when nothing was thrown.
template <typename F> std::pair<std::string, int> netlink_error(F&& f) {
    try {
        f();
    } catch (const NetlinkError& e) {
        return {e.what(), e.error()};
    }
    return {"", 0};
}

// The set matches of the filter table's rules as the kernel holds them (IPT_SO_GET_ENTRIES, what
// libiptc reads): the match revision iptables chose, and the bytes of its data.
struct SetMatch {
    std::uint8_t revision = 0;
    std::vector<std::uint8_t> data;
};
std::vector<SetMatch> kernel_set_matches() {
    memguard::Fd fd(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    REQUIRE(fd);
    ipt_getinfo info{};
    std::strcpy(info.name, "filter");
    socklen_t len = sizeof info;
    REQUIRE(getsockopt(fd.get(), IPPROTO_IP, IPT_SO_GET_INFO, &info, &len) == 0);
    std::vector<std::uint64_t> storage((sizeof(ipt_get_entries) + info.size) / 8 + 1);
    auto* entries = reinterpret_cast<ipt_get_entries*>(storage.data());
    std::strcpy(entries->name, "filter");
    entries->size = info.size;
    len = static_cast<socklen_t>(sizeof(ipt_get_entries) + info.size);
    REQUIRE(getsockopt(fd.get(), IPPROTO_IP, IPT_SO_GET_ENTRIES, entries, &len) == 0);

    std::vector<SetMatch> out;
    const auto* table = reinterpret_cast<const std::uint8_t*>(entries->entrytable);
    for (std::size_t at = 0; at < info.size;) {
        const auto* e = reinterpret_cast<const ipt_entry*>(table + at);
        for (std::size_t m = sizeof(ipt_entry); m < e->target_offset;) {
            const auto* match = reinterpret_cast<const xt_entry_match*>(table + at + m);
            if (std::string(match->u.user.name) == "set") {
                const auto* data = table + at + m + sizeof(xt_entry_match);
                out.push_back({match->u.user.revision,
                               {data, data + (match->u.match_size - sizeof(xt_entry_match))}});
            }
            m += match->u.match_size;
        }
        at += e->next_offset;
    }
    return out;
}

void check_round_trip(Family family, const char* set, const std::vector<Network>& networks,
                      const std::string& create_line) {
    Ipset ipset;
    ipset.create(set, family, networks.size());
    ipset.add(set, networks);

    // The oracle first.
    CHECK(saved_create(set).rfind(create_line, 0) == 0);
    const auto expected = sorted(networks);
    const auto saved = saved_members(set);
    CHECK(saved.size() == networks.size());
    CHECK(saved == expected);
    // A full-length prefix shows as the bare address, as after `ipset add NAME ADDRESS`.
    const std::string first = networks.front().to_string();
    CHECK(test::run("ipset save " + std::string(set) + " | grep -qx 'add " + set + " " + first +
                    "'") == 0);

    // Our reader: the whole set, over many dump messages.
    const auto members = ipset.members(set);
    CHECK(members.size() == networks.size());
    CHECK(members == expected);

    const auto header = ipset.header(set);
    REQUIRE(header.has_value());
    CHECK(*header ==
          IpsetHeader{"hash:net", family, 0, static_cast<std::uint32_t>(networks.size()),
                      memguard::netlink::owner_initval}); // our mark (`ipset list`: initval)

    // Adding members already there is no error and changes nothing.
    ipset.add(set, std::span(networks).subspan(0, 100));
    CHECK(ipset.header(set)->elements == networks.size());
}

} // namespace

TEST_CASE("netns ipset: 10,000 IPv4 /32s and some prefixes, written and read back",
          "[netns][ipset]") {
    fresh({"mg4"});
    const auto networks = many("10.0.0.1", {"192.168.0.0/16", "172.16.0.0/12", "100.64.0.0/10",
                                            "10.200.0.0/24", "203.0.113.128/25"});
    // hashsize: the power of two >= 10,005; maxelem: the minimum, 65536 > 2 * 10,005.
    check_round_trip(Family::ipv4, "mg4", networks,
                     "create mg4 hash:net family inet hashsize 16384 maxelem 65536 ");
}

TEST_CASE("netns ipset: 10,000 IPv6 /128s and some prefixes, written and read back",
          "[netns][ipset]") {
    fresh({"mg6"});
    const auto networks =
        many("2001:db8::1", {"2001:db8:ffff::/48", "fd00::/8", "2001:db8:0:0:1::/80", "::/1"});
    check_round_trip(Family::ipv6, "mg6", networks,
                     "create mg6 hash:net family inet6 hashsize 16384 maxelem 65536 ");
}

TEST_CASE("netns ipset: swap exchanges contents, the rule keeps its name", "[netns][ipset]") {
    fresh({"mg_a", "mg_b", "mg_c6"});
    Ipset ipset;
    ipset.create("mg_a", Family::ipv4, 2);
    ipset.create("mg_b", Family::ipv4, 1);
    ipset.create("mg_c6", Family::ipv6, 1);
    const auto a = std::vector{test::net("10.0.0.1"), test::net("10.1.0.0/16")};
    const auto b = std::vector{test::net("192.168.1.0/24")};
    ipset.add("mg_a", a);
    ipset.add("mg_b", b);
    REQUIRE(test::run("iptables-legacy -A INPUT -m set --match-set mg_a src -j ACCEPT") == 0);
    CHECK(ipset.header("mg_a")->references == 1);

    ipset.swap("mg_a", "mg_b");
    CHECK(saved_members("mg_a") == sorted(b));
    CHECK(saved_members("mg_b") == sorted(a));
    CHECK(ipset.members("mg_a") == sorted(b));
    // The rule still says mg_a and now matches what was mg_b's; the reference went with it.
    CHECK(test::run("iptables-legacy -S INPUT | grep -q -- '--match-set mg_a src'") == 0);
    CHECK(ipset.header("mg_a")->references == 1);
    CHECK(ipset.header("mg_b")->references == 0);

    const auto mismatch = netlink_error([&] { ipset.swap("mg_a", "mg_c6"); });
    CHECK(mismatch.second == EINVAL);
    CHECK(mismatch.first == "ipset swap mg_a mg_c6: the sets differ in type or family "
                            "(IPSET_ERR_TYPE_MISMATCH): Invalid argument");
    const auto second = netlink_error([&] { ipset.swap("mg_a", "mg_none"); });
    CHECK(second.second == ENOENT);
    CHECK(second.first == "ipset swap mg_a mg_none: the second set does not exist "
                          "(IPSET_ERR_EXIST_SETNAME2): No such file or directory");
    const auto first = netlink_error([&] { ipset.swap("mg_none", "mg_a"); });
    CHECK(first.second == ENOENT);
    CHECK(first.first ==
          "ipset swap mg_none mg_a: no set named mg_none: No such file or directory");
    REQUIRE(test::run("iptables-legacy -F INPUT") == 0);
}

TEST_CASE("netns ipset: a referenced set is not destroyed, index and name agree with the rule",
          "[netns][ipset]") {
    fresh({"mg_x0", "mg_x1", "mg4"});
    Ipset ipset;
    // Two sets first, so mg4's index is not 0 (a forgotten index field would read as 0).
    ipset.create("mg_x0", Family::ipv4, 1);
    ipset.create("mg_x1", Family::ipv4, 1);
    ipset.create("mg4", Family::ipv4, 1);
    const auto index = ipset_index("mg4");
    REQUIRE(index.has_value());
    CHECK(*index != 0);
    CHECK(ipset_name(*index) == "mg4");
    CHECK(ipset_index("mg_x0") != index);

    // iptables-legacy looks the name up itself and stores the index in the rule.
    REQUIRE(test::run("iptables-legacy -A INPUT -m set --match-set mg4 src -j ACCEPT") == 0);
    CHECK(ipset.header("mg4")->references == 1);
    CHECK(test::run("iptables-legacy-save -t filter | grep -qx -- "
                    "'-A INPUT -m set --match-set mg4 src -j ACCEPT'") == 0);
    // The rule as the kernel holds it: match "set" revision 4 (the newest both iptables 1.8.9
    // and the kernel know), xt_set_info_match_v4 with our index, one dimension, src.
    const auto matches = kernel_set_matches();
    REQUIRE(matches.size() == 1);
    CHECK(matches[0].revision == 4);
    REQUIRE(matches[0].data.size() >= sizeof(xt_set_info_match_v4));
    xt_set_info_match_v4 info{};
    std::memcpy(&info, matches[0].data.data(), sizeof info);
    CHECK(info.match_set.index == *index);
    CHECK(info.match_set.dim == IPSET_DIM_ONE);
    CHECK(info.match_set.flags == IPSET_DIM_ONE_SRC);

    const auto busy = netlink_error([&] { ipset.destroy("mg4"); });
    CHECK(busy.second == EBUSY);
    CHECK(busy.first == "ipset destroy mg4: set in use by an iptables rule or a list:set "
                        "(IPSET_ERR_BUSY): Device or resource busy");
    CHECK(ipset.header("mg4").has_value());

    REQUIRE(test::run("iptables-legacy -D INPUT -m set --match-set mg4 src -j ACCEPT") == 0);
    CHECK(ipset.header("mg4")->references == 0);
    ipset.destroy("mg4");
    CHECK_FALSE(ipset.header("mg4").has_value());
    CHECK_FALSE(ipset_index("mg4").has_value());
    CHECK_FALSE(ipset_name(*index).has_value());
    CHECK_FALSE(ipset_name(60000).has_value());  // beyond the kernel's table of sets
    CHECK_FALSE(ipset_name(0xFFFF).has_value()); // IPSET_INVALID_ID
}

TEST_CASE("netns ipset: missing sets, taken names, bad names and bad members", "[netns][ipset]") {
    fresh({"mg4", "mg_ip"});
    Ipset ipset;
    CHECK_FALSE(ipset.header("mg4").has_value());
    const auto list = netlink_error([&] { (void)ipset.members("mg4"); });
    CHECK(list.second == ENOENT);
    CHECK(list.first == "ipset list mg4: no set named mg4: No such file or directory");
    CHECK(netlink_error([&] { ipset.destroy("mg4"); }).second == ENOENT);
    CHECK(netlink_error([&] { ipset.add("mg4", std::vector{test::net("10.0.0.1")}); }).second ==
          ENOENT);
    CHECK_FALSE(ipset_index("mg4").has_value());

    ipset.create("mg4", Family::ipv4, 10);
    const auto exists = netlink_error([&] { ipset.create("mg4", Family::ipv4, 10); });
    CHECK(exists.second == EEXIST);
    CHECK(exists.first == "ipset create mg4 (hash:net inet): File exists");
    // A name taken by a set of another type is just as taken.
    REQUIRE(test::run("ipset create mg_ip hash:ip") == 0);
    CHECK(netlink_error([&] { ipset.create("mg_ip", Family::ipv4, 10); }).second == EEXIST);

    const std::string longest(31, 'n');
    const std::string too_long(32, 'n');
    CHECK_THROWS_AS(ipset.create(too_long, Family::ipv4, 1), std::invalid_argument);
    CHECK_THROWS_AS(ipset_index(too_long), std::invalid_argument);
    CHECK_THROWS_AS(ipset.destroy(""), std::invalid_argument); // never "destroy all sets"
    CHECK_THROWS_AS(ipset.header(std::string("mg4\0x", 5)), std::invalid_argument);
    ipset.create(longest, Family::ipv6, 1);
    CHECK(ipset.header(longest)->family == Family::ipv6);
    CHECK(test::run("ipset list -n | grep -qx " + longest) == 0);
    ipset.destroy(longest);

    // The family is checked before anything is sent; hash:net cannot hold a /0.
    CHECK_THROWS_AS(ipset.add("mg4", std::vector{test::net("10.0.0.1"), test::net("::1")}),
                    std::invalid_argument);
    CHECK_THROWS_AS(ipset.add("mg4", std::vector{test::net("0.0.0.0/0")}), std::invalid_argument);
    CHECK(ipset.header("mg4")->elements == 0);
    // Host bits are cleared as the kernel would.
    ipset.add("mg4", std::vector{test::net("10.1.2.3/16")});
    CHECK(saved_members("mg4") == std::vector{test::net("10.1.0.0/16")});

    // The header and members of a set with other members than ours: `ipset add ... nomatch`.
    REQUIRE(test::run("ipset add mg4 10.1.2.0/24 nomatch") == 0);
    CHECK(netlink_error([&] { (void)ipset.members("mg4"); }).second == EOPNOTSUPP);
    // The dump cut short by that error did not leave the set referenced.
    ipset.destroy("mg4");
    CHECK(test::run("ipset list -n | grep -qx mg4") != 0);
}

// Not run by ctest (hidden): timings for the report.
//   memguard_netlink_netns_tests '[.bench]'
TEST_CASE("netns ipset: timings", "[.bench][netns][ipset]") {
    using Clock = std::chrono::steady_clock;
    const auto ms = [](Clock::duration d) {
        return std::chrono::duration<double, std::milli>(d).count();
    };
    const auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    fresh({"mg_bench"});
    const auto networks = many("10.0.0.1", {});
    Ipset ipset;
    std::vector<double> fill;
    for (int i = 0; i < 5; ++i) {
        const auto start = Clock::now();
        ipset.create("mg_bench", Family::ipv4, networks.size());
        ipset.add("mg_bench", networks);
        fill.push_back(ms(Clock::now() - start));
        if (i < 4) {
            ipset.destroy("mg_bench");
        }
    }
    std::vector<double> read;
    for (int i = 0; i < 20; ++i) {
        const auto start = Clock::now();
        const auto members = ipset.members("mg_bench");
        read.push_back(ms(Clock::now() - start));
        REQUIRE(members.size() == networks.size());
    }
    std::cout << "create + add 10,000: median of 5 " << median(fill) << " ms\n"
              << "members() of 10,000: median of 20 " << median(read) << " ms (min "
              << *std::min_element(read.begin(), read.end()) << ", max "
              << *std::max_element(read.begin(), read.end()) << ")\n";
    ipset.destroy("mg_bench");
}
