// The basic_auth HTTP filter: checks "Authorization: Basic base64(user:password)" against
// the htpasswd table (the route's own when it has one) and answers 401 otherwise.
#include <ferry/filters/basic_auth.hpp>

#include "common/ascii.hpp"
#include "common/base64.hpp"
#include "filters/basic_auth/htpasswd.hpp"

namespace ferry::filters {

namespace {

constexpr std::size_t kMaxUriPath = 256;  // Envoy's MaximumUriLength for the realm

struct Compiled {
  std::shared_ptr<const BasicAuthPerRoute::Users> users;
  std::string forward_username_header;
  std::string header;  ///< where credentials are, lower case
};

class BasicAuthFilter final : public Filter {
 public:
  explicit BasicAuthFilter(std::shared_ptr<const Compiled> c) : c_(std::move(c)) {}

  FilterStatus on_request_headers(RequestHeaders& req, bool, StreamContext& ctx) override {
    const BasicAuthPerRoute::Users* users = c_->users.get();
    if (const auto* r = dynamic_cast<const BasicAuthPerRoute*>(ctx.route_filter_config(kBasicAuthFilterName))) {
      if (r->is_disabled()) return FilterStatus::Continue;
      users = r->users().get();
    }
    if (!req.has(c_->header)) return deny(req, ctx, "User authentication failed. Missing username and password.");
    std::string_view value = req.get(c_->header);
    if (!value.starts_with("Basic "))
      return deny(req, ctx, "User authentication failed. Expected 'Basic' authentication scheme.");
    auto decoded = detail::base64_decode(value.substr(6), detail::Base64Alphabet::standard);
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos)
      return deny(req, ctx, "User authentication failed. Invalid basic credential format.");
    std::string_view user = std::string_view(*decoded).substr(0, colon);
    std::string_view password = std::string_view(*decoded).substr(colon + 1);
    if (!users->verify(user, password))
      return deny(req, ctx, "User authentication failed. Invalid username/password combination.");
    if (!c_->forward_username_header.empty()) req.set(c_->forward_username_header, user);
    return FilterStatus::Continue;
  }

  FilterStatus on_response_headers(ResponseHeaders& resp, bool, StreamContext&) override {
    if (!www_authenticate_.empty()) resp.set("www-authenticate", www_authenticate_);
    return FilterStatus::Continue;
  }

 private:
  FilterStatus deny(const RequestHeaders& req, StreamContext& ctx, std::string_view body) {
    std::string_view proto = req.get("x-forwarded-proto");
    www_authenticate_ = "Basic realm=\"" + std::string(proto.empty() ? "http" : proto) + "://" +
                        std::string(req.authority()) + std::string(req.path().substr(0, kMaxUriPath)) + "\"";
    ctx.send_local_reply(401, body);
    return FilterStatus::Stop;
  }

  std::shared_ptr<const Compiled> c_;
  std::string www_authenticate_;
};

std::shared_ptr<const BasicAuthPerRoute::Users> parse_or_throw(const std::string& users, const char* path) {
  std::vector<std::string> problems;
  auto parsed = BasicAuthPerRoute::Users::parse(users, problems);
  if (problems.empty()) return parsed;
  std::vector<ConfigProblem> out;
  for (auto& p : problems) out.push_back({path, std::move(p)});
  throw ConfigError(std::move(out));
}

}  // namespace

std::shared_ptr<const BasicAuthPerRoute> BasicAuthPerRoute::with_users(const std::string& users) {
  return std::make_shared<BasicAuthPerRoute>(parse_or_throw(users, "users"), false);
}

std::shared_ptr<const BasicAuthPerRoute> BasicAuthPerRoute::disabled() {
  return std::make_shared<BasicAuthPerRoute>(nullptr, true);
}

std::vector<std::string> check_htpasswd(const std::string& users) {
  std::vector<std::string> problems;
  BasicAuthPerRoute::Users::parse(users, problems);
  return problems;
}

FilterFactory make_basic_auth_factory(BasicAuthConfig config) {
  auto c = std::make_shared<Compiled>();
  c->users = parse_or_throw(config.users, "users");
  c->forward_username_header = detail::to_lower(config.forward_username_header);
  c->header = config.authentication_header.empty() ? "authorization" : detail::to_lower(config.authentication_header);
  std::shared_ptr<const Compiled> shared = std::move(c);
  return [shared]() -> FilterPtr { return std::make_unique<BasicAuthFilter>(shared); };
}

}  // namespace ferry::filters
