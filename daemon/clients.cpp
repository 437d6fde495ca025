// A stand-in so the command line links; replaced by the real `clients` at merge.
#include "clients.hpp"

#include <cstdio>

namespace memguard {

int print_clients(const std::string& /*config_path*/, bool /*json*/) {
    std::fprintf(stderr, "memguardd: clients: not built yet\n");
    return 1;
}

} // namespace memguard
