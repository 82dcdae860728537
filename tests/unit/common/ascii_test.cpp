#include "common/ascii.hpp"

#include <ferry/headers.hpp>

#include <catch2/catch.hpp>

#include <cctype>
#include <random>
#include <string>

using ferry::detail::lower;

namespace {
bool reference_iequals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}
}  // namespace

TEST_CASE("ascii: lower8 lower-cases exactly A-Z in every byte position", "[common][ascii]") {
  for (int c = 0; c < 256; ++c) {
    for (int pos = 0; pos < 8; ++pos) {
      unsigned char bytes[8] = {'a', 'Z', 0x80, '@', '[', 0xFF, '0', 'Q'};
      bytes[pos] = static_cast<unsigned char>(c);
      std::uint64_t x;
      std::memcpy(&x, bytes, 8);
      auto y = ferry::detail::lower8(x);
      unsigned char out[8];
      std::memcpy(out, &y, 8);
      for (int i = 0; i < 8; ++i) {
        INFO("byte " << c << " at " << pos << ", index " << i);
        CHECK(out[i] == static_cast<unsigned char>(lower(static_cast<char>(bytes[i]))));
      }
    }
  }
}

TEST_CASE("ascii: iequals agrees with a byte-by-byte compare at every length", "[common][ascii]") {
  std::mt19937 rng(7);
  // Letters in both cases plus their neighbours ('@', '[', '`', '{') and high bytes.
  const std::string alphabet = "aAzZmM@[`{-_0\x80\xc1\xe1";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  for (std::size_t len = 0; len <= 40; ++len) {
    for (int round = 0; round < 300; ++round) {
      std::string a, b;
      for (std::size_t i = 0; i < len; ++i) a += alphabet[pick(rng)];
      b = a;
      // Flip the case of some letters (still equal), or change one byte (maybe unequal).
      for (auto& c : b)
        if (rng() % 3 == 0 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) c = char(c ^ 0x20);
      if (len > 0 && rng() % 2 == 0) b[rng() % len] = alphabet[pick(rng)];
      INFO("\"" << a << "\" vs \"" << b << "\"");
      CHECK(ferry::iequals(a, b) == reference_iequals(a, b));
    }
  }
  CHECK_FALSE(ferry::iequals("x-request-id", "x-request-ie"));
  CHECK(ferry::iequals("X-Forwarded-For", "x-forwarded-for"));
  CHECK_FALSE(ferry::iequals("content-length", "content-lengtH "));
}

TEST_CASE("ascii: equals_lower agrees with iequals against lower-case names", "[common][ascii]") {
  std::mt19937 rng(11);
  const std::string alphabet = "aAzZmM@[`{-_0\x80\xc1";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  for (std::size_t len = 0; len <= 33; ++len) {
    for (int round = 0; round < 300; ++round) {
      std::string name, other;
      for (std::size_t i = 0; i < len; ++i) name += char(std::tolower(static_cast<unsigned char>(alphabet[pick(rng)])));
      for (auto c : name) other += rng() % 2 ? char(std::toupper(static_cast<unsigned char>(c))) : c;
      if (len > 0 && rng() % 2 == 0) other[rng() % len] = alphabet[pick(rng)];
      INFO("\"" << other << "\" vs \"" << name << "\"");
      CHECK(ferry::detail::equals_lower(other.data(), name) == reference_iequals(other, name));
    }
  }
}
