#pragma once
#define FERRY_VERSION_STRING "0.1.0"
namespace ferry {
inline constexpr const char* version() noexcept { return FERRY_VERSION_STRING; }
}
