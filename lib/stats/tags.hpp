// Envoy's default tag extraction, for the Prometheus output.
//
// Envoy names stats as dotted paths with the variable parts inline
// (cluster.api.upstream_rq_200); its default tag extractors pull those parts out as labels
// so dashboards can aggregate: envoy_cluster_upstream_rq{envoy_response_code="200",
// envoy_cluster_name="api"}. The extractors here are Envoy's (source/common/config/
// well_known_names.cc), in Envoy's order, with the same regexes (lookaheads written out for
// RE2). As in Envoy, each one is matched against the full name; its first group is cut out
// of the name and its second group (or the first) is the label value.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::stats {

struct TaggedName {
  std::string name;  ///< the name with the tag values cut out ("cluster.upstream_rq")
  std::vector<std::pair<std::string, std::string>> tags;  ///< ("envoy.cluster_name", "api")
};

TaggedName extract_tags(std::string_view name);

/// "envoy_" + the name with every character outside [a-zA-Z0-9_] turned into '_'.
std::string prometheus_name(std::string_view tag_extracted_name);
/// A label name: the same replacement, no prefix ("envoy.cluster_name" → "envoy_cluster_name").
std::string prometheus_label(std::string_view tag_name);
/// A label value escaped for the text format (\\, \", \n).
std::string prometheus_escape(std::string_view value);

}  // namespace ferry::stats
