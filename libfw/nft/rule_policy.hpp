// Internal to libfw/nft/rule_message.cpp: what each attribute of a rule message must be, per
// expression, as libnftnl 1.2.4 reads them (src/expr/*.c) and the kernel sends them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

namespace memguard::nft {

enum class Kind : std::uint8_t {
    none,   // not an attribute libnftnl reads: fails the check
    u8,     // exactly 1 byte
    u16,    // exactly 2
    u32,    // exactly 4
    u64,    // exactly 8
    str,    // NUL-terminated
    binary, // any length
    data,   // nested nft_data: a value (1 to 64 bytes) or a verdict
    expr,   // nested: one expression (dynset's NFTA_DYNSET_EXPR)
    exprs,  // nested: a list of expressions (NFTA_DYNSET_EXPRESSIONS)
};

struct Field {
    std::uint16_t type;
    Kind kind;
};

// Index = attribute type.
class Policy {
public:
    Policy() = default;
    explicit Policy(std::span<const Field> fields);
    Policy(std::initializer_list<Field> fields)
        : Policy(std::span(fields.begin(), fields.size())) {}
    [[nodiscard]] Kind operator[](std::uint16_t type) const {
        return type < kinds_.size() ? kinds_[type] : Kind::none;
    }

private:
    std::vector<Kind> kinds_;
};

struct ExprPolicy {
    std::string_view name;
    Policy attrs;
};

// Every expression libnftnl 1.2.4 parses; an expression of another name fails the check (libnftnl
// would refuse the whole rule).
std::span<const ExprPolicy> expression_policies();

} // namespace memguard::nft
