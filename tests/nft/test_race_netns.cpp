// A batch computed from an old generation is refused (ERESTART), and reconcile retries it.
#include "nft_netns.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

using memguard::nft::Batch;
using memguard::nft::GenerationMoved;
using memguard::nft::Keeper;
using memguard::nft::Kernel;

TEST_CASE("a batch pinned to an old generation is refused as a race", "[netns][nft]") {
    test::fresh_netns();
    Kernel kernel;
    const auto generation = kernel.generation();
    REQUIRE(test::run("nft add table inet other") == 0);
    Batch batch(kernel.next_seq(), generation);
    memguard::nft::add_new_table(batch, "memguard", 0);
    batch.end();
    CHECK_THROWS_AS(kernel.commit(batch), GenerationMoved);
    CHECK(test::run("nft list table inet memguard >/dev/null 2>&1") != 0); // nothing committed

    Batch fresh(kernel.next_seq(), kernel.generation());
    memguard::nft::add_new_table(fresh, "memguard", 0);
    fresh.end();
    CHECK_NOTHROW(kernel.commit(fresh));
}

TEST_CASE("a refused message names what it was", "[netns][nft]") {
    test::fresh_netns();
    Kernel kernel;
    Batch batch(kernel.next_seq(), std::nullopt);
    memguard::nft::add_delete_table(batch, "memguard"); // there is none
    batch.end();
    try {
        kernel.commit(batch);
        FAIL("deleting a missing table was accepted");
    } catch (const memguard::nft::BatchRefused& e) {
        CHECK(e.error() == ENOENT);
        CHECK(e.message() == "delete table inet memguard");
        CHECK(std::string(e.what()).starts_with(
            "commit nftables batch: delete table inet memguard: "));
    }
}

TEST_CASE("a table another live memguardd owns is left to it: no fail closed over it",
          "[netns][nft]") {
    test::fresh_netns();
    // Another live owner holds our table (`apply --once --force` beside the daemon): the kernel
    // would refuse every change, and failing closed beside it would cut the clients it allows.
    Keeper other;
    REQUIRE(other.reconcile(test::desired_with(1), false).committed);
    const std::string before = test::nft_text();
    Keeper keeper;
    const auto result = keeper.reconcile(test::desired_with(2), false);
    INFO(test::describe(result));
    CHECK_FALSE(result.fail_closed);
    CHECK_FALSE(result.committed);
    CHECK(result.error.find("owned by another process") != std::string::npos);
    CHECK(test::nft_text() == before);                  // the owner's table stands, byte for byte
    CHECK(test::nft_json("memguard_closed").is_null()); // no table of that name
}

#if defined(MEMGUARD_TEST_HOOKS) && MEMGUARD_TEST_HOOKS
// Another writer commits between our read and our commit: the kernel refuses the batch pinned to
// the generation we read, and reconcile reads again and commits on its second attempt. The
// reconcile runs in a fresh process of this binary (the hidden test below) that stops itself
// right after its read (MEMGUARD_TEST_STOP_AT=nft_after_read); meanwhile this test commits a
// table of its own, then lets it go on.
TEST_CASE("reconcile retries a batch refused as a race, and commits", "[netns][nft]") {
    test::fresh_netns();
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        setenv("MEMGUARD_TEST_STOP_AT", "nft_after_read", 1);
        execl("/proc/self/exe", "memguard_nft_netns_tests", "race child reconcile",
              static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, WUNTRACED) == child);
    REQUIRE(WIFSTOPPED(status)); // the reconcile has read the ruleset, and waits
    CHECK(test::run("nft add table inet other") == 0);
    REQUIRE(kill(child, SIGCONT) == 0);
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0); // committed, on the second attempt (its output says more)
    CHECK(test::run("nft list table inet memguard >/dev/null") == 0);
    CHECK(test::run("nft list table inet other >/dev/null") == 0); // the other writer's stands
}

// Run only by the test above, in the namespace it made.
TEST_CASE("race child reconcile", "[.]") {
    Keeper keeper;
    const auto result = keeper.reconcile(test::desired_with(1), false);
    INFO(test::describe(result));
    CHECK(result.committed);
    CHECK(result.attempts == 2);
    CHECK(result.error.empty());
}
#endif
