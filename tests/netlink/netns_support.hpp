// Helpers for the namespace tests: run a command, start a helper process and wait until it says
// it is ready, and stop it again (by its pid, nothing broader).
#pragma once

#include "catch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace test {

// Runs a shell command; its exit status.
inline int run(const std::string& command) {
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs a shell command; its standard output.
inline std::string capture(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) {
        out.append(buf.data(), n);
    }
    pclose(pipe);
    return out;
}

// A helper process (argv[0] found on PATH); its stdout comes back through a pipe. Stopped with
// SIGTERM, then SIGKILL, when the object goes away.
class Child {
public:
    explicit Child(std::vector<std::string> argv) {
        int fds[2];
        REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            dup2(fds[1], STDOUT_FILENO);
            std::vector<char*> args;
            for (auto& a : argv) {
                args.push_back(a.data());
            }
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
        close(fds[1]);
        out_ = fds[0];
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status = 0;
            for (int i = 0; i < 50 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            if (waitpid(pid_, &status, WNOHANG) == 0) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
            }
        }
        if (out_ >= 0) {
            close(out_);
        }
    }

    // Reads the child's stdout until `word` shows up (true) or `timeout` passes / it exits.
    bool wait_for(const std::string& word, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (seen_.find(word) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return false;
            }
            pollfd pfd{out_, POLLIN, 0};
            if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
                return false;
            }
            std::array<char, 512> buf{};
            const ssize_t n = read(out_, buf.data(), buf.size());
            if (n <= 0) {
                return false;
            }
            seen_.append(buf.data(), static_cast<std::size_t>(n));
        }
        return true;
    }
    [[nodiscard]] const std::string& output() const { return seen_; }
    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::string seen_;
};

// A python3 helper running `script`; it prints "ready" when its sockets are set up.
inline std::vector<std::string> python(const std::string& script) {
    return {"python3", "-u", "-c", script};
}

} // namespace test
