#include "entry.hpp"
#include "netlink/ipset.hpp"

#include <map>
#include <memory>

namespace memguard::iptc {

SetNames kernel_set_names() {
    // Shared by both lookups, so a name found one way is not asked for the other.
    struct Cache {
        std::map<std::string, std::optional<std::uint16_t>> index;
        std::map<std::uint16_t, std::optional<std::string>> name;
    };
    auto cache = std::make_shared<Cache>();
    return {
        [cache](const std::string& set) {
            auto it = cache->index.find(set);
            if (it == cache->index.end()) {
                it = cache->index.emplace(set, netlink::ipset_index(set)).first;
            }
            return it->second;
        },
        [cache](std::uint16_t index) {
            auto it = cache->name.find(index);
            if (it == cache->name.end()) {
                it = cache->name.emplace(index, netlink::ipset_name(index)).first;
            }
            return it->second;
        },
    };
}

} // namespace memguard::iptc
