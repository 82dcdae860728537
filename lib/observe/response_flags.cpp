// ferry::flags_to_string (ferry/filter.hpp): Envoy's short response flag names.
#include <array>
#include <string>
#include <string_view>

#include <ferry/filter.hpp>

namespace ferry {

namespace {

struct FlagName {
  std::uint32_t bit;
  std::string_view name;
};

// Envoy's order (ResponseFlagUtils::ALL_RESPONSE_STRINGS_FLAGS), so "UH,UF"-style lists
// read the same as Envoy's.
constexpr std::array<FlagName, 13> kFlagNames{{
    {kNoHealthyUpstream, "UH"},
    {kUpstreamRequestTimeout, "UT"},
    {kLocalReset, "LR"},
    {kUpstreamRemoteReset, "UR"},
    {kUpstreamConnectionFailure, "UF"},
    {kUpstreamConnectionTermination, "UC"},
    {kUpstreamOverflow, "UO"},
    {kNoRouteFound, "NR"},
    {kDownstreamConnectionTermination, "DC"},
    {kStreamIdleTimeout, "SI"},
    {kDownstreamProtocolError, "DPE"},
    {kUpstreamProtocolError, "UPE"},
    {kNoClusterFound, "NC"},
}};

}  // namespace

std::string flags_to_string(std::uint32_t flags) {
  std::string out;
  for (const auto& f : kFlagNames) {
    if (!(flags & f.bit)) continue;
    if (!out.empty()) out += ',';
    out += f.name;
  }
  return out.empty() ? std::string("-") : out;
}

}  // namespace ferry
