// Real packets: a veth pair to a second namespace, a listener on 11211 in ours, connections from
// an allowed and a not allowed source address.
#include "nft_netns.hpp"

#include <sys/stat.h>

#include <chrono>
#include <thread>

using memguard::nft::Keeper;

namespace {

ino_t netns_inode(const std::string& pid) {
    struct stat st {};
    return stat(("/proc/" + pid + "/ns/net").c_str(), &st) == 0 ? st.st_ino : 0;
}

// Connects from `source` in the peer namespace to 10.9.0.1:11211; true when it got through.
bool connects(const std::string& peer, const std::string& source) {
    const std::string script =
        "import socket,sys; s=socket.socket(); s.settimeout(1); s.bind((sys.argv[1],0)); "
        "r=s.connect_ex((\"10.9.0.1\",11211)); print(\"open\" if r==0 else \"closed\")";
    return test::capture("nsenter --net=/proc/" + peer + "/ns/net python3 -c '" + script + "' " +
                         source)
               .find("open") != std::string::npos;
}

} // namespace

TEST_CASE("allowed sources connect, others are dropped", "[netns][nft]") {
    test::fresh_netns();
    test::Child peer({"unshare", "-n", "sleep", "60"});
    const std::string pid = std::to_string(peer.pid());
    for (int i = 0; i < 100 && netns_inode(pid) == netns_inode("self"); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(netns_inode(pid) != netns_inode("self"));
    const std::string in_peer = "nsenter --net=/proc/" + pid + "/ns/net ";
    REQUIRE(test::run("ip link add v0 type veth peer name v1 netns /proc/" + pid + "/ns/net") == 0);
    REQUIRE(test::run("ip addr add 10.9.0.1/24 dev v0 && ip link set v0 up") == 0);
    REQUIRE(test::run(in_peer + "sh -c 'ip addr add 10.9.0.2/24 dev v1 && "
                                "ip addr add 10.9.0.4/24 dev v1 && ip link set v1 up && "
                                "ip link set lo up'") == 0);
    test::Child listener(
        test::python("import socket\n"
                     "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                     "s.bind(('0.0.0.0',11211)); s.listen(16); print('ready')\n"
                     "while True:\n c,_=s.accept(); c.close()\n"));
    REQUIRE(listener.wait_for("ready"));
    CHECK(connects(pid, "10.9.0.4")); // nothing guards the port yet

    auto desired = test::desired_with(0);
    desired.ipv4.guards[0].allow = {*memguard::parse_network("10.9.0.2/32")};
    Keeper keeper;
    REQUIRE(keeper.reconcile(desired, false).committed);
    CHECK(connects(pid, "10.9.0.2"));
    CHECK_FALSE(connects(pid, "10.9.0.4"));
    // The tcp drop rule counted what it dropped (status shows it); the catch-all (udp) did not.
    const auto snap = keeper.read();
    REQUIRE(snap.main);
    const auto& rules = snap.main->chain("guard4")->rules;
    REQUIRE(rules.size() >= 2);
    CHECK(rules[rules.size() - 2].text.starts_with("meta l4proto tcp counter"));
    CHECK(rules[rules.size() - 2].packets > 0);
    CHECK(rules.back().packets == 0);
}
