// Which guard a (protocol, port) belongs to and which labelled allowlist entry an address falls
// in: what the journal's MEMGUARD_GUARD and MEMGUARD_LABEL fields say about a packet or a source.
#pragma once

#include "network_index.hpp"
#include "policy.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace memguard {

class LabelIndex {
public:
    LabelIndex() = default;
    explicit LabelIndex(const Policy& policy);

    // The name of the guard of `port` over `protocol`; "" when no guard has it.
    [[nodiscard]] std::string guard_of(Protocol protocol, std::uint16_t port) const;
    // The label of the narrowest labelled entry (of any guard) that holds `address`; "" if none.
    [[nodiscard]] std::string label_of(const Network& address) const;
    // The labels `networks` (allowlist entries, canonical) had, each once, as "a, b"; "" if none.
    [[nodiscard]] std::string labels_of(const std::vector<Network>& networks) const;

private:
    std::map<std::pair<Protocol, std::uint16_t>, std::string> guards_;
    std::map<Network, std::string> labels_; // canonical network → label
    NetworkIndex labelled_;
};

} // namespace memguard
