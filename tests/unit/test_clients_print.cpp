// `memguardd clients` output (daemon/clients.cpp): the table, its summary line, the JSON.
#include "support.hpp"

#include "clients.hpp"

#include <string>
#include <vector>

using memguard::ClientGroup;
using memguard::ClientVerdict;
using memguard::Network;
using unit::net;

namespace {

ClientGroup group(const char* network, ClientVerdict verdict, std::vector<Network> clients,
                  std::size_t tcp, std::size_t udp) {
    return {net(network), verdict, "default", "", std::move(clients), tcp, udp};
}

std::vector<ClientGroup> three_groups() {
    std::vector<Network> many;
    for (int i = 5; i <= 11; ++i) {
        many.push_back(net(("10.7.0." + std::to_string(i)).c_str()));
    }
    return {group("172.20.0.0/24", ClientVerdict::blocked, {net("172.20.0.7"), net("172.20.0.8")},
                  1, 1),
            group("10.0.0.0/8", ClientVerdict::allowed, many, 7, 0),
            group("127.0.0.0/8", ClientVerdict::local, {net("127.0.0.1")}, 12, 0)};
}

} // namespace

TEST_CASE("clients output: an aligned table, blocked in capitals, and a summary") {
    CHECK(memguard::clients_text(memguard::Policy{}, three_groups()) ==
          "NETWORK        VERDICT  CLIENTS  TCP  UDP  ADDRESSES\n"
          "172.20.0.0/24  BLOCKED        2    1    1  172.20.0.7, 172.20.0.8\n"
          "10.0.0.0/8     allowed        7    7    0  10.7.0.5, 10.7.0.6, 10.7.0.7, 10.7.0.8, "
          "10.7.0.9 and 2 more\n"
          "127.0.0.0/8    local          1   12    0  127.0.0.1\n"
          "3 networks, 10 clients; 1 network (2 clients) would be blocked by the config\n");
}

TEST_CASE("clients output: the summary counts in the singular and says when none is blocked") {
    const auto one =
        std::vector{group("fd07::/64", ClientVerdict::allowed, {net("fd07::5")}, 0, 1)};
    const auto text = memguard::clients_text(memguard::Policy{}, one);
    CHECK(text.ends_with("\n1 network, 1 client; none would be blocked by the config\n"));
    auto blocked = three_groups();
    blocked[1].verdict = ClientVerdict::blocked;
    CHECK(memguard::clients_text(memguard::Policy{}, blocked)
              .ends_with("\n3 networks, 10 clients; 2 networks (9 clients) would be blocked by "
                         "the config\n"));
}

TEST_CASE("clients output: nobody talking is said plainly") {
    memguard::Policy p;
    CHECK(memguard::clients_text(p, {}) == "no client talks to port 11211 (tcp, udp) right now\n");
    p.guards[0].ports = {11211, 11213};
    p.guards[0].protocols = {memguard::Protocol::tcp};
    CHECK(memguard::clients_text(p, {}) ==
          "no client talks to ports 11211, 11213 (tcp) right now\n");
}

TEST_CASE("clients output: JSON lists every address of every group") {
    memguard::Policy p;
    p.guards[0].ports = {11211, 11213};
    auto groups = three_groups();
    groups[1].label = "web tier";
    const auto out = memguard::clients_json(p, "/etc/memguard.json", groups);
    CHECK(out == nlohmann::ordered_json::parse(R"({
        "ports": [11211, 11213],
        "config": "/etc/memguard.json",
        "groups": [
            {"guard": "default", "network": "172.20.0.0/24", "label": null, "verdict": "blocked", "clients": 2, "tcp": 1, "udp": 1,
             "addresses": ["172.20.0.7", "172.20.0.8"]},
            {"guard": "default", "network": "10.0.0.0/8", "label": "web tier", "verdict": "allowed", "clients": 7, "tcp": 7, "udp": 0,
             "addresses": ["10.7.0.5", "10.7.0.6", "10.7.0.7", "10.7.0.8", "10.7.0.9",
                           "10.7.0.10", "10.7.0.11"]},
            {"guard": "default", "network": "127.0.0.0/8", "label": null, "verdict": "local", "clients": 1, "tcp": 12, "udp": 0,
             "addresses": ["127.0.0.1"]}
        ]})"));
    CHECK(memguard::clients_json(p, "x.json", {})["groups"] == nlohmann::ordered_json::array());
}

TEST_CASE("clients output: a label follows its network; several guards name theirs") {
    memguard::Policy p;
    auto groups = three_groups();
    groups[1].label = "web tier";
    const std::string one = memguard::clients_text(p, groups);
    CHECK(one.find("10.0.0.0/8 (web tier)") != std::string::npos);
    p.guards.push_back(p.guards[0]);
    p.guards[1].name = "pages";
    groups[1].guard = "pages";
    const std::string two = memguard::clients_text(p, groups);
    CHECK(two.find("pages 10.0.0.0/8 (web tier)") != std::string::npos);
    CHECK(two.find("default 172.20.0.0/24") != std::string::npos);
}
