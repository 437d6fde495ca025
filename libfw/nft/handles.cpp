#include "handles.hpp"

#include <string>

namespace memguard::nft {

UdataPtr comment_udata(std::uint8_t type, std::string_view comment) {
    auto buf = make<UdataPtr>([] { return nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8); });
    const std::string text(comment.substr(0, NFTNL_UDATA_COMMENT_MAXLEN - 1));
    nftnl_udata_put_strz(buf.get(), type, text.c_str());
    return buf;
}

std::string comment_from_udata(const void* data, std::uint32_t len, std::uint8_t type) {
    if (data == nullptr) {
        return {};
    }
    // Walked by hand (not nftnl_udata_parse) so a truncated TLV is checked before it is read.
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    std::uint32_t pos = 0;
    while (pos + 2 <= len) {
        const std::uint8_t t = bytes[pos];
        const std::uint8_t l = bytes[pos + 1];
        if (pos + 2 + l > len) {
            return {};
        }
        if (t == type && l > 0 && bytes[pos + 1 + l] == 0) {
            return {reinterpret_cast<const char*>(bytes + pos + 2), l - 1U};
        }
        pos += 2U + l;
    }
    return {};
}

} // namespace memguard::nft
