#include "admin/stats_output.hpp"

#include <re2/re2.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "admin/json.hpp"
#include "stats/tags.hpp"

namespace ferry::admin {

namespace {

bool selected(const StatSample& s, const StatsQuery& q) {
  if (q.filter && !RE2::PartialMatch(s.name, *q.filter)) return false;
  if (!q.used_only) return true;
  switch (s.type) {
    case StatType::counter: return s.counter != 0;
    case StatType::gauge: return s.gauge != 0;
    case StatType::histogram: return s.histogram && s.histogram->count != 0;
  }
  return true;
}

// %g, as Envoy prints quantiles and bucket bounds ("nan" for no value).
std::string g(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

const HistogramSnapshot* interval_of(const std::vector<StatSample>* interval, const std::string& name) {
  if (!interval) return nullptr;
  for (const auto& s : *interval)
    if (s.name == name && s.histogram) return &*s.histogram;
  return nullptr;
}

}  // namespace

std::string stats_text(const std::vector<StatSample>& stats, const StatsQuery& q,
                       const std::vector<StatSample>* interval) {
  std::string out;
  for (const auto& s : stats) {
    if (s.type == StatType::histogram || !selected(s, q)) continue;
    out += s.name;
    out += ": ";
    out += s.type == StatType::counter ? std::to_string(s.counter) : std::to_string(s.gauge);
    out += '\n';
  }
  for (const auto& s : stats) {
    if (s.type != StatType::histogram || !selected(s, q)) continue;
    out += s.name;
    out += ':';
    const auto& h = *s.histogram;
    if (h.count == 0) {
      out += " No recorded values\n";
      continue;
    }
    const auto* iv = interval_of(interval, s.name);
    for (double p : kQuantiles) {
      out += " P" + g(p) + "(" + g(iv ? iv->quantile(p / 100) : NAN) + "," + g(h.quantile(p / 100)) + ")";
    }
    out += '\n';
  }
  return out;
}

std::string stats_json(const std::vector<StatSample>& stats, const StatsQuery& q,
                       const std::vector<StatSample>* interval) {
  std::string out = "{\"stats\":[";
  bool first = true;
  for (const auto& s : stats) {
    if (s.type == StatType::histogram || !selected(s, q)) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    json_string(out, s.name);
    out += ",\"value\":";
    out += s.type == StatType::counter ? std::to_string(s.counter) : std::to_string(s.gauge);
    out += '}';
  }
  if (!first) out += ',';
  out += "{\"histograms\":{\"supported_quantiles\":[";
  for (std::size_t i = 0; i < std::size(kQuantiles); ++i) {
    if (i) out += ',';
    json_number(out, kQuantiles[i]);
  }
  out += "],\"computed_quantiles\":[";
  bool first_h = true;
  for (const auto& s : stats) {
    if (s.type != StatType::histogram || !selected(s, q)) continue;
    if (!first_h) out += ',';
    first_h = false;
    out += "{\"name\":";
    json_string(out, s.name);
    out += ",\"values\":[";
    const auto* iv = interval_of(interval, s.name);
    for (std::size_t i = 0; i < std::size(kQuantiles); ++i) {
      if (i) out += ',';
      out += "{\"interval\":";
      json_number(out, iv ? iv->quantile(kQuantiles[i] / 100) : NAN);
      out += ",\"cumulative\":";
      json_number(out, s.histogram->quantile(kQuantiles[i] / 100));
      out += '}';
    }
    out += "]}";
  }
  out += "]}}]}";
  return out;
}

namespace {

struct Series {
  std::string labels;  ///< `a="x",b="y"` (no braces)
  const StatSample* sample;
};

struct Metric {
  StatType type;
  std::vector<Series> series;
};

std::string braces(const std::string& labels) { return labels.empty() ? std::string() : "{" + labels + "}"; }

std::string with_le(const std::string& labels, const std::string& le) {
  return "{" + labels + (labels.empty() ? "" : ",") + "le=\"" + le + "\"}";
}

}  // namespace

std::string stats_prometheus(const std::vector<StatSample>& stats, const StatsQuery& q) {
  // Series of one metric must be contiguous under one # TYPE line, so group first.
  std::map<std::string, Metric> metrics;
  for (const auto& s : stats) {
    if (!selected(s, q)) continue;
    auto tagged = stats::extract_tags(s.name);
    std::string labels;
    for (const auto& [k, v] : tagged.tags) {
      if (!labels.empty()) labels += ',';
      labels += stats::prometheus_label(k) + "=\"" + stats::prometheus_escape(v) + "\"";
    }
    auto& m = metrics.try_emplace(stats::prometheus_name(tagged.name), Metric{s.type, {}}).first->second;
    if (m.type != s.type) continue;  // a clash of types under one metric name: keep the first
    m.series.push_back({std::move(labels), &s});
  }
  std::string out;
  for (const auto& [name, m] : metrics) {
    out += "# TYPE " + name + " ";
    out += m.type == StatType::counter ? "counter" : m.type == StatType::gauge ? "gauge" : "histogram";
    out += '\n';
    for (const auto& series : m.series) {
      const auto& s = *series.sample;
      if (m.type == StatType::counter) {
        out += name + braces(series.labels) + " " + std::to_string(s.counter) + "\n";
      } else if (m.type == StatType::gauge) {
        out += name + braces(series.labels) + " " + std::to_string(s.gauge) + "\n";
      } else {
        const auto& h = *s.histogram;
        auto bounds = HistogramSnapshot::bucket_bounds();
        for (std::size_t i = 0; i < bounds.size(); ++i)
          out += name + "_bucket" + with_le(series.labels, g(bounds[i])) + " " +
                 std::to_string(i < h.cumulative.size() ? h.cumulative[i] : 0) + "\n";
        out += name + "_bucket" + with_le(series.labels, "+Inf") + " " + std::to_string(h.count) + "\n";
        std::string sum;
        json_number(sum, h.sum);
        out += name + "_sum" + braces(series.labels) + " " + sum + "\n";
        out += name + "_count" + braces(series.labels) + " " + std::to_string(h.count) + "\n";
      }
    }
  }
  return out;
}

}  // namespace ferry::admin
