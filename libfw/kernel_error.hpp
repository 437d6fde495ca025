// "The kernel said no": what we were doing and the errno. Every backend and the netlink layer
// throw it (netlink::NetlinkError is one, with the kernel's extended-ACK message in its text), so
// callers catch one type.
#pragma once

#include <stdexcept>
#include <string>

namespace memguard {

class KernelError : public std::runtime_error {
public:
    KernelError(const std::string& what, int error) : std::runtime_error(what), errno_(error) {}
    // The errno value (ENOENT, EPERM, ...).
    [[nodiscard]] int error() const noexcept { return errno_; }

private:
    int errno_;
};

} // namespace memguard
