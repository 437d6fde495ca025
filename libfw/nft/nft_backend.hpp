#pragma once
#include "backend.hpp"
namespace memguard {
std::unique_ptr<Backend> make_nft_backend();
}
