// `memguardd verify`.
#pragma once

#include "cli.hpp"

namespace memguard {

int run_verify(const Options& o);

} // namespace memguard
