// Several guards against the kernel, `nft` as the oracle: the sets and labels nft lists (and can
// read back), a label changed through nft repaired, real packets through a veth (a client of
// one guard does not reach another's port), and blocked() against nft's own counters.
#include "nft_backend.hpp"
#include "nft_topology.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>

using memguard::Family;
using memguard::Protocol;
using memguard::nft::Keeper;
using nlohmann::json;

namespace {

memguard::Desired two_guards(const std::string& cache_net, const std::string& pages_net) {
    auto cache = test::guard("app-cache", {11211}, {Protocol::tcp, Protocol::udp},
                             {cache_net, "10.2.0.5", "fd00:1::/64"}, {Protocol::udp});
    test::label(cache, "10.2.0.5", "batch host");
    test::label(cache, cache_net, "clients");
    const auto pages = test::guard("pages", {11212, 11213}, {Protocol::tcp}, {pages_net});
    return test::desired_of({cache, pages});
}

json set_named(const json& listing, const std::string& name) {
    for (const json& s : test::nft_objects(listing, "set")) {
        if (s["name"] == name) {
            return s;
        }
    }
    return {};
}

// The comment nft -j shows on the element of `set` whose value dumps as `value`; "" if none.
std::string element_comment(const json& set, const std::string& value) {
    for (const json& e : set.value("elem", json::array())) {
        if (e.is_object() && e.contains("elem") &&
            e["elem"]["val"].dump().find(value) != std::string::npos) {
            return e["elem"].value("comment", "");
        }
    }
    return "";
}

// tcp on 11211 and 11212, udp on 11211 (answering), every IPv4 address.
constexpr const char* kListeners = R"(import select, socket
ts = []
for port in (11211, 11212):
    t = socket.socket()
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(('0.0.0.0', port))
    t.listen(16)
    ts.append(t)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('0.0.0.0', 11211))
print('ready', flush=True)
while True:
    for s in select.select(ts + [u], [], [])[0]:
        if s is u:
            data, peer = u.recvfrom(64)
            u.sendto(b'pong', peer)
        else:
            s.accept()[0].close()
)";

std::string probe(const test::Peer& peer, const std::string& proto, const std::string& source,
                  int port) {
    return peer.probe(proto, source, "10.9.0.1", static_cast<std::uint16_t>(port));
}

// From nft -j: per family and protocol, the counters of our guard chains' drop/reject rules. A
// rule matching `meta l4proto P` counts for P; one matching no protocol for udp (tcp having its
// own rule before it when both are guarded, as here).
std::vector<memguard::BlockedCount> nft_blocked(const json& listing) {
    std::vector<memguard::BlockedCount> out{{Family::ipv4, Protocol::tcp, 0, 0},
                                            {Family::ipv4, Protocol::udp, 0, 0},
                                            {Family::ipv6, Protocol::tcp, 0, 0},
                                            {Family::ipv6, Protocol::udp, 0, 0}};
    for (const json& r : test::nft_objects(listing, "rule")) {
        if (r["chain"] != "guard4" && r["chain"] != "guard6") {
            continue;
        }
        json counter;
        bool blocks = false;
        std::string proto = "udp";
        for (const json& e : r["expr"]) {
            counter = e.contains("counter") ? e["counter"] : counter;
            blocks = blocks || e.contains("drop") || e.contains("reject");
            if (e.contains("match") &&
                e["match"]["left"].dump().find("l4proto") != std::string::npos) {
                proto = e["match"]["right"].get<std::string>();
            }
        }
        if (blocks && counter.is_object()) {
            auto& c = out[(r["chain"] == "guard6" ? 2 : 0) + (proto == "udp" ? 1 : 0)];
            c.packets += counter["packets"].get<std::uint64_t>();
            c.bytes += counter["bytes"].get<std::uint64_t>();
        }
    }
    return out;
}

} // namespace

TEST_CASE("two guards: sets and labels as nft lists them, and nft reads the listing back",
          "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper;
    const auto desired = two_guards("10.1.0.0/16", "10.3.0.0/24");
    const auto result = keeper.reconcile(desired, false);
    INFO(test::describe(result));
    REQUIRE(result.committed);
    const std::string text = test::nft_text();
    INFO(text);
    CHECK(text.find("set allow4-app-cache {") != std::string::npos);
    CHECK(text.find("10.2.0.5 comment \"batch host\"") != std::string::npos);
    CHECK(text.find("tcp dport 11212 ip saddr @allow4-pages accept") != std::string::npos);
    CHECK(text.find("meta l4proto tcp counter packets 0 bytes 0 drop") != std::string::npos);
    const json listing = test::nft_json();
    REQUIRE(listing.is_object());
    for (const std::string name :
         {"allow4-app-cache", "allow4-pages", "allow6-app-cache", "allow6-pages"}) {
        CHECK_FALSE(set_named(listing, name).is_null());
    }
    const json four = set_named(listing, "allow4-app-cache");
    CHECK(element_comment(four, "10.2.0.5") == "batch host");
    CHECK(element_comment(four, "10.1.0.0") == "clients");
    CHECK(element_comment(set_named(listing, "allow4-pages"), "10.3.0.0").empty());
    // The listing parses back and the kernel would take it (as another table, in this netns).
    std::string copy = text;
    copy.replace(copy.find("table inet memguard"), 19, "table inet memguard_copy");
    const std::string path = "/tmp/memguard_nft_copy." + std::to_string(getpid()) + ".nft";
    { std::ofstream(path) << copy; }
    CHECK(test::run("nft -c -f " + path) == 0);
    std::remove(path.c_str());
    CHECK(keeper.compare(desired).drift.empty());
}

TEST_CASE("a label changed through nft is drift and repaired", "[netns][nft]") {
    test::fresh_netns();
    Keeper keeper(memguard::nft::NftOptions{false});
    const auto desired = two_guards("10.1.0.0/16", "10.3.0.0/24");
    REQUIRE(keeper.reconcile(desired, false).committed);
    REQUIRE(test::run("nft delete element inet memguard allow4-app-cache '{ 10.2.0.5 }' && "
                      "nft add element inet memguard allow4-app-cache "
                      "'{ 10.2.0.5 comment \"forged\" }'") == 0);
    CHECK(element_comment(set_named(test::nft_json(), "allow4-app-cache"), "10.2.0.5") == "forged");
    CHECK(test::changed_within(keeper, std::chrono::seconds(2)));
    const auto found = keeper.compare(desired);
    INFO(test::describe(found));
    REQUIRE(found.drift.size() == 1);
    CHECK(found.drift[0].kind == "set_labels");
    CHECK(found.drift[0].text ==
          "ipv4 set allow4-app-cache labels: 10.2.0.5 is \"forged\", wanted \"batch host\"");
    CHECK(found.revoked.empty());
    const auto repaired = keeper.reconcile(desired, true);
    INFO(test::describe(repaired));
    CHECK(repaired.committed);
    CHECK(keeper.compare(desired).drift.empty());
    CHECK(element_comment(set_named(test::nft_json(), "allow4-app-cache"), "10.2.0.5") ==
          "batch host");
}

TEST_CASE("a client of one guard reaches its port and not another guard's; blocked() is what "
          "nft counted",
          "[netns][nft]") {
    test::fresh_netns();
    const test::Peer client("v0", "v1");
    REQUIRE(test::run("ip addr add 10.9.0.1/24 dev v0") == 0);
    REQUIRE(client.in("ip addr add 10.9.0.2/24 dev v1 && ip addr add 10.9.0.3/24 dev v1 && "
                      "ip addr add 10.9.0.4/24 dev v1") == 0);
    test::Child listener(test::python(kListeners));
    REQUIRE(listener.wait_for("ready"));

    memguard::NftBackend backend;
    const auto desired = two_guards("10.9.0.2/32", "10.9.0.3/32");
    REQUIRE_FALSE(backend.reconcile(desired, memguard::PassKind::apply).failed());
    CHECK(probe(client, "tcp", "10.9.0.2", 11211) == "open");
    CHECK(probe(client, "udp", "10.9.0.2", 11211) == "open");
    CHECK(probe(client, "tcp", "10.9.0.2", 11212) == "closed");
    CHECK(probe(client, "tcp", "10.9.0.3", 11212) == "open");
    CHECK(probe(client, "tcp", "10.9.0.3", 11211) == "closed");
    CHECK(probe(client, "udp", "10.9.0.3", 11211) == "closed");
    CHECK(probe(client, "tcp", "10.9.0.4", 11212) == "closed");

    // Counters stay put once the probes are done; read until nft shows the same twice.
    std::vector<memguard::BlockedCount> counted;
    std::vector<memguard::BlockedCount> oracle;
    for (int i = 0; i < 10; ++i) {
        const auto before = nft_blocked(test::nft_json());
        counted = backend.blocked();
        oracle = nft_blocked(test::nft_json());
        if (before == oracle) {
            break;
        }
    }
    CHECK(counted == oracle);
    REQUIRE(counted.size() == 4);
    CHECK(counted[0].packets >= 3); // tcp SYNs to 11212 and 11211, at least one each
    CHECK(counted[0].bytes > 0);
    CHECK(counted[1].packets >= 1); // the udp datagram from 10.9.0.3
    CHECK(counted[2].packets == 0);
    CHECK(counted[3].packets == 0);
}

TEST_CASE("thousands of labelled networks fit the batch and read back", "[netns][nft]") {
    test::fresh_netns();
    auto desired = test::desired_with(3000);
    auto& four = desired.ipv4.guards[0];
    for (const auto& net : four.allow) {
        four.labels[net] = "host " + net.to_string() + std::string(80, 'x'); // near the 100 bytes
    }
    Keeper keeper;
    const auto result = keeper.reconcile(desired, false);
    INFO(test::describe(result));
    REQUIRE(result.committed);
    const json set = set_named(test::nft_json(), "allow4");
    REQUIRE(set.contains("elem"));
    std::size_t labelled = 0;
    for (const json& e : set["elem"]) {
        labelled += e.is_object() && e["elem"].contains("comment") ? 1 : 0;
    }
    CHECK(labelled == 3000);
    CHECK(keeper.compare(desired).drift.empty());
}
