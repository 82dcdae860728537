// XXH64 (Yann Collet's xxHash, 64-bit), the hash Envoy's RING_HASH and MAGLEV use.
#pragma once

#include <cstdint>
#include <string_view>

namespace ferry::upstream {

std::uint64_t xxh64(std::string_view data, std::uint64_t seed = 0) noexcept;

}  // namespace ferry::upstream
