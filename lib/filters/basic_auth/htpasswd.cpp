#include "filters/basic_auth/htpasswd.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <memory>

#include "common/base64.hpp"

namespace ferry::filters {

namespace basic_auth {

namespace {

constexpr std::string_view kSha = "{SHA}";

// Schemes accepted: salted, slow-by-design hashes libxcrypt implements.
constexpr std::string_view kCryptPrefixes[] = {"$y$", "$gy$", "$7$", "$2b$", "$2y$", "$2a$", "$6$", "$5$"};

bool constant_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string hash_problem(std::string_view hash) {
  if (hash.starts_with(kSha)) {
    auto raw = detail::base64_decode(hash.substr(kSha.size()), detail::Base64Alphabet::standard);
    return raw && raw->size() == SHA_DIGEST_LENGTH ? "" : "invalid {SHA} hash (expected base64 of 20 bytes)";
  }
  bool known = false;
  for (auto p : kCryptPrefixes) known = known || hash.starts_with(p);
  if (!known)
    return "unsupported hash; use a crypt(3) hash ($y$, $2b$, $6$ or $5$, e.g. from `mkpasswd -m sha-512`) or "
           "{SHA}";
  std::string setting(hash);
  // The prefix list already keeps DES and MD5 out; libxcrypt calls sha256-crypt "legacy"
  // too, but the issue asks for salted SHA-256, so only broken or disabled ones are refused.
  switch (crypt_checksalt(setting.c_str())) {
    case CRYPT_SALT_OK:
    case CRYPT_SALT_TOO_CHEAP:
    case CRYPT_SALT_METHOD_LEGACY: return "";
    case CRYPT_SALT_METHOD_DISABLED: return "hash method disabled in this libxcrypt";
    default: return "malformed crypt(3) hash";
  }
}

bool check_hash(std::string_view hash, std::string_view password) {
  if (hash.starts_with(kSha)) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(password.data()), password.size(), digest);
    auto encoded = detail::base64_encode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest),
                                         detail::Base64Alphabet::standard, true);
    return constant_equal(encoded, hash.substr(kSha.size()));
  }
  // crypt_data is ~32 KiB: on the heap, per check (a check costs far more than that).
  auto data = std::make_unique<crypt_data>();
  std::string phrase(password), setting(hash);
  const char* out = crypt_r(phrase.c_str(), setting.c_str(), data.get());
  OPENSSL_cleanse(phrase.data(), phrase.size());
  // libxcrypt answers a failure with a string starting with '*', never equal to a hash.
  return out && out[0] != '*' && constant_equal(out, hash);
}

}  // namespace basic_auth

std::shared_ptr<const BasicAuthPerRoute::Users> BasicAuthPerRoute::Users::parse(std::string_view text,
                                                                                 std::vector<std::string>& problems) {
  auto users = std::make_shared<Users>();
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    std::string where = "line " + std::to_string(line_no) + ": ";
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == line.size()) {
      problems.push_back(where + "expected \"user:hash\"");
      continue;
    }
    std::string user(line.substr(0, colon));
    std::string_view hash = line.substr(colon + 1);
    if (auto why = basic_auth::hash_problem(hash); !why.empty()) {
      problems.push_back(where + why);
      continue;
    }
    if (!users->hashes.emplace(user, std::string(hash)).second)
      problems.push_back(where + "duplicate user \"" + user + "\"");
    else if (users->decoy.empty())
      users->decoy = std::string(hash);
  }
  if (users->hashes.empty() && problems.empty()) problems.push_back("no users");
  return users;
}

bool BasicAuthPerRoute::Users::verify(std::string_view user, std::string_view password) const {
  auto it = hashes.find(std::string(user));
  if (it == hashes.end()) {
    basic_auth::check_hash(decoy, password);  // same work as for a real user, result unused
    return false;
  }
  return basic_auth::check_hash(it->second, password);
}

}  // namespace ferry::filters
