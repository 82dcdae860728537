// The HCM's access_log list (Envoy's config.accesslog.v3.AccessLog) into AccessLogOptions.
#include <limits>

#include "config/parse.hpp"
#include "observe/access_log_format.hpp"

namespace ferry::config::detail {

namespace {

constexpr std::string_view kFileType = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
constexpr std::string_view kStdoutType =
    "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";

constexpr std::string_view kLogFields[] = {"name", "filter", "typed_config"};
constexpr std::string_view kFileFields[] = {"@type", "path", "format", "json_format", "typed_json_format", "log_format"};
constexpr std::string_view kStdoutFields[] = {"@type", "log_format"};
constexpr std::string_view kFormatFields[] = {"text_format", "json_format", "text_format_source"};
constexpr std::string_view kFormatNotYet[] = {"omit_empty_values", "content_type", "formatters", "json_format_options"};
constexpr std::string_view kSourceFields[] = {"inline_string"};
constexpr std::string_view kSourceNotYet[] = {"filename", "inline_bytes", "environment_variable", "watched_directory"};
constexpr std::string_view kFilterFields[] = {"status_code_filter", "duration_filter", "not_health_check_filter",
                                              "and_filter", "or_filter"};
constexpr std::string_view kFilterNotYet[] = {"traceable_filter", "runtime_filter", "header_filter",
                                              "response_flag_filter", "grpc_status_filter", "extension_filter",
                                              "metadata_filter", "log_type_filter"};
constexpr std::string_view kComparisonHolderFields[] = {"comparison"};
constexpr std::string_view kComparisonFields[] = {"op", "value"};
constexpr std::string_view kRuntimeFields[] = {"default_value", "runtime_key"};
constexpr std::string_view kListFields[] = {"filters"};
constexpr std::string_view kNoFields[] = {"@type"};
constexpr EnumValue kOps[] = {{"EQ", 0, true}, {"GE", 1, true}, {"LE", 2, true}};

void check_format(Context& ctx, const Field& f, const std::string& format) {
  observe::FormatString compiled;
  std::string error;
  if (!compiled.compile(format, error)) ctx.problem(f, error);
}

// A json_format Struct: string values are format strings, objects nest.
void parse_json_format(Context& ctx, const Field& f, std::vector<AccessLogJsonField>& out) {
  if (!f) return;
  if (!f.value->is_object()) {
    ctx.problem(f, "expected an object of format strings");
    return;
  }
  for (const auto& [key, value] : f.value->items()) {
    Field item = f.entry(key, &value);
    AccessLogJsonField field;
    field.key = key;
    if (value.is_object()) {
      field.object = true;
      parse_json_format(ctx, item, field.fields);
    } else if (value.is_string()) {
      field.format = value.get<std::string>();
      check_format(ctx, item, field.format);
    } else {
      ctx.problem(item, "expected a format string or an object (other JSON values are not supported yet)");
    }
    out.push_back(std::move(field));
  }
}

// SubstitutionFormatString.
void parse_log_format(Context& ctx, const Field& f, AccessLogOptions& log) {
  Object o(ctx, f, {kFormatFields, kFormatNotYet});
  if (!o.ok()) return;
  int cases = 0;
  if (Field text = o.get("text_format")) {
    ++cases;
    set_if(read_string(ctx, text), log.format);
    check_format(ctx, text, log.format);
  }
  if (Field source = o.get("text_format_source")) {
    ++cases;
    Object s(ctx, source, {kSourceFields, kSourceNotYet});
    if (s.ok()) {
      Field inline_string = s.required("inline_string");
      set_if(read_string(ctx, inline_string), log.format);
      if (inline_string) check_format(ctx, inline_string, log.format);
    }
  }
  if (Field json = o.get("json_format")) {
    ++cases;
    log.typed_json = true;  // SubstitutionFormatString renders json_format values typed
    parse_json_format(ctx, json, log.json_format);
  }
  if (cases > 1) ctx.problem(f, "set only one of text_format, text_format_source, json_format");
  if (cases == 1 && log.format.empty() && log.json_format.empty())
    ctx.problem(f, "the format is empty");
}

std::optional<std::uint32_t> read_comparison(Context& ctx, const Field& f, AccessLogFilter& filter) {
  Object holder(ctx, f, {kComparisonHolderFields});
  if (!holder.ok()) return std::nullopt;
  Object cmp(ctx, holder.required("comparison"), {kComparisonFields});
  if (!cmp.ok()) return std::nullopt;
  auto op = read_enum(ctx, cmp.get("op"), kOps);
  if (op) filter.op = *op == "EQ" ? AccessLogFilter::Op::eq : *op == "GE" ? AccessLogFilter::Op::ge : AccessLogFilter::Op::le;
  Object value(ctx, cmp.required("value"), {kRuntimeFields});
  if (!value.ok()) return std::nullopt;
  // ferry has no runtime layer: the runtime key is required (as in Envoy) but only the
  // default value applies.
  read_string(ctx, value.required("runtime_key"));
  auto v = read_uint(ctx, value.required("default_value"), 0, std::numeric_limits<std::uint32_t>::max());
  if (v) filter.value = std::uint32_t(*v);
  return v ? std::optional<std::uint32_t>(filter.value) : std::nullopt;
}

AccessLogFilter parse_filter(Context& ctx, const Field& f) {
  AccessLogFilter filter;
  Object o(ctx, f, {kFilterFields, kFilterNotYet});
  if (!o.ok()) return filter;
  int cases = 0;
  if (Field s = o.get("status_code_filter")) {
    ++cases;
    filter.kind = AccessLogFilter::Kind::status_code;
    read_comparison(ctx, s, filter);
  }
  if (Field d = o.get("duration_filter")) {
    ++cases;
    filter.kind = AccessLogFilter::Kind::duration;
    read_comparison(ctx, d, filter);
  }
  if (Field n = o.get("not_health_check_filter")) {
    ++cases;
    filter.kind = AccessLogFilter::Kind::not_health_check;
    Object empty(ctx, n, {kNoFields});
  }
  for (std::string_view name : {"and_filter", "or_filter"}) {
    Field list = o.get(name);
    if (!list) continue;
    ++cases;
    filter.kind = name == "and_filter" ? AccessLogFilter::Kind::and_filter : AccessLogFilter::Kind::or_filter;
    Object l(ctx, list, {kListFields});
    if (!l.ok()) continue;
    Field filters = l.required("filters");
    for_each(ctx, filters, [&](const Field& item) { filter.filters.push_back(parse_filter(ctx, item)); });
    if (filters && filters.value->is_array() && filters.value->size() < 2)
      ctx.problem(filters, "needs at least 2 filters");
  }
  if (cases == 0) ctx.problem(f, "set one filter (status_code_filter, duration_filter, not_health_check_filter, and_filter, or_filter)");
  if (cases > 1) ctx.problem(f, "set only one filter per entry (combine them with and_filter/or_filter)");
  return filter;
}

void parse_file_log(Context& ctx, const Object& o, AccessLogOptions& log) {
  log.sink = AccessLogOptions::Sink::file;
  Field path = o.required("path");
  set_if(read_string(ctx, path), log.path);
  if (path && log.path.empty()) ctx.problem(path, "must not be empty");
  int cases = 0;
  if (Field format = o.get("format")) {
    ++cases;
    set_if(read_string(ctx, format), log.format);
    check_format(ctx, format, log.format);
  }
  if (Field json = o.get("json_format")) {
    ++cases;
    parse_json_format(ctx, json, log.json_format);
  }
  if (Field json = o.get("typed_json_format")) {
    ++cases;
    log.typed_json = true;
    parse_json_format(ctx, json, log.json_format);
  }
  if (Field format = o.get("log_format")) {
    ++cases;
    parse_log_format(ctx, format, log);
  }
  if (cases > 1) ctx.problem(o.self(), "set only one of format, json_format, typed_json_format, log_format");
}

}  // namespace

void parse_access_logs(Context& ctx, const Field& f, HttpOptions& http) {
  for_each(ctx, f, [&](const Field& item) {
    Object o(ctx, item, {kLogFields});
    if (!o.ok()) return;
    AccessLogOptions log;
    set_if(read_string(ctx, o.get("name")), log.name);
    if (Field filter = o.get("filter")) log.filter.push_back(parse_filter(ctx, filter));
    Field config = o.required("typed_config");
    if (!config) return;
    if (!config.value->is_object()) {
      ctx.problem(config, "expected an object");
      return;
    }
    auto type = config.value->find("@type");
    std::string url = type != config.value->end() && type->is_string() ? type->get<std::string>() : "";
    if (url == kFileType) {
      Object c(ctx, config, {kFileFields});
      if (c.ok()) parse_file_log(ctx, c, log);
    } else if (url == kStdoutType) {
      Object c(ctx, config, {kStdoutFields});
      log.sink = AccessLogOptions::Sink::standard_output;
      if (c.ok())
        if (Field format = c.get("log_format")) parse_log_format(ctx, format, log);
    } else {
      Object c(ctx, config, {kNoFields});
      if (c.ok()) {
        Field t = c.required("@type");
        if (t) ctx.problem(t, url.empty() ? "expected a type URL" : in_quotes(url) + " is not supported (file and stdout access loggers are)");
      }
      return;
    }
    http.access_logs.push_back(std::move(log));
  });
}

}  // namespace ferry::config::detail
