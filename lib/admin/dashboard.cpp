#include "admin/dashboard.hpp"

#include <chrono>
#include <cmath>

#include <ferry/cluster.hpp>

#include "admin/admin_server.hpp"
#include "admin/json.hpp"
#include "stats/server_stats.hpp"

namespace ferry::admin {

namespace {

constexpr std::string_view kClasses[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// "http.<prefix>.downstream_rq_2xx" with head "http." and stem "downstream_rq_": the prefix
// and "2xx". False when the name has another shape.
bool split_name(std::string_view name, std::string_view head, std::string_view stem, std::string& entity,
                std::string& rest) {
  if (!starts_with(name, head)) return false;
  auto body = name.substr(head.size());
  auto at = body.rfind(stem);
  if (at == std::string_view::npos || at == 0 || body[at - 1] != '.') return false;
  entity = std::string(body.substr(0, at - 1));
  rest = std::string(body.substr(at + stem.size()));
  return true;
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Dashboard::sample(const Stats& stats) {
  std::map<std::string, Source> listeners, clusters;
  for (auto& s : stats.snapshot()) {
    std::string entity, rest;
    bool is_listener = split_name(s.name, "http.", "downstream_rq_", entity, rest);
    bool is_cluster = !is_listener && split_name(s.name, "cluster.", "upstream_rq_", entity, rest);
    if (!is_listener && !is_cluster) continue;
    auto& src = (is_listener ? listeners : clusters)[entity];
    src.seen = true;
    if (rest == "total" && s.type == StatType::counter) src.total = s.counter;
    else if (rest == "time" && s.histogram) src.time = std::move(*s.histogram);
    else
      for (int i = 0; i < 5; ++i)
        if (rest == kClasses[i] && s.type == StatType::counter) src.xx[i] = s.counter;
  }
  auto now = unix_ms();
  double seconds = last_ms_ ? double(now - last_ms_) / 1000.0 : 0;
  for (const auto& [name, src] : listeners) add_point(listeners_[name], src, now, seconds);
  for (const auto& [name, src] : clusters) add_point(clusters_[name], src, now, seconds);
  last_ms_ = now;
}

void Dashboard::add_point(Series& s, const Source& now, std::int64_t t_ms, double seconds) {
  if (s.last.seen && seconds > 0) {
    Point p;
    p.t_ms = t_ms;
    p.rps = double(now.total - std::min(now.total, s.last.total)) / seconds;
    for (int i = 0; i < 5; ++i) p.xx[i] = double(now.xx[i] - std::min(now.xx[i], s.last.xx[i])) / seconds;
    auto window = now.time.since(s.last.time);
    p.p50 = window.quantile(0.50);
    p.p90 = window.quantile(0.90);
    p.p99 = window.quantile(0.99);
    s.points.push_back(p);
    if (s.points.size() > kPoints) s.points.pop_front();
  }
  s.last = now;
}

namespace {

void series_json(std::string& out, const std::deque<Dashboard::Point>& points) {
  out += "\"points\":[";
  bool first = true;
  for (const auto& p : points) {
    if (!first) out += ',';
    first = false;
    out += "{\"t\":" + std::to_string(p.t_ms) + ",\"rps\":";
    json_number(out, p.rps);
    out += ",\"xx\":[";
    for (int i = 0; i < 5; ++i) {
      if (i) out += ',';
      json_number(out, p.xx[i]);
    }
    out += "],\"p50\":";
    json_number(out, p.p50);
    out += ",\"p90\":";
    json_number(out, p.p90);
    out += ",\"p99\":";
    json_number(out, p.p99);
    out += '}';
  }
  out += ']';
}

}  // namespace

std::string Dashboard::data(const stats::ServerStats& server, const std::vector<ClusterView>& clusters) const {
  std::string out = "{\"now\":" + std::to_string(unix_ms()) + ",\"server\":{\"state\":" +
                    json_quote(stats::ServerStats::state_name(server.state())) +
                    ",\"uptime_s\":" + std::to_string(server.uptime_s()) +
                    ",\"concurrency\":" + std::to_string(server.server_concurrency.value()) + "},\"listeners\":[";
  bool first = true;
  for (const auto& [name, s] : listeners_) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":" + json_quote(name) + ",";
    series_json(out, s.points);
    out += '}';
  }
  out += "],\"clusters\":[";
  first = true;
  for (const auto& [name, s] : clusters_) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":" + json_quote(name) + ",";
    series_json(out, s.points);
    out += ",\"hosts\":[";
    for (const auto& c : clusters) {
      if (c.name != name) continue;
      for (std::size_t i = 0; i < c.hosts.size(); ++i) {
        const auto& h = c.hosts[i];
        if (i) out += ',';
        out += "{\"address\":" + json_quote(h.address) + ",\"weight\":" + std::to_string(h.weight) +
               ",\"priority\":" + std::to_string(h.priority) +
               ",\"failed_active_hc\":" + ((h.flags & failed_active_hc) ? "true" : "false") +
               ",\"ejected\":" + ((h.flags & failed_outlier_check) ? "true" : "false") +
               ",\"rq_active\":" + std::to_string(h.rq_active) + ",\"rq_total\":" + std::to_string(h.rq_total) +
               ",\"cx_active\":" + std::to_string(h.cx_active) + ",\"success_rate\":";
        json_number(out, h.success_rate());
        out += '}';
      }
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

std::string_view dashboard_html() noexcept {
  // One page, no external resources: inline CSS, inline script, charts drawn on canvas.
  static constexpr std::string_view kHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ferry</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:10px 18px;display:flex;gap:24px;align-items:baseline}
header h1{font-size:18px;margin:0}
main{padding:12px 18px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:0 0 14px;padding:10px 14px}
h2{font-size:15px;margin:0 0 8px}
.row{display:flex;flex-wrap:wrap;gap:14px}
.card{flex:1 1 300px}
.card h3{font-size:12px;font-weight:600;margin:4px 0;color:#56606f}
canvas{width:100%;height:130px;border:1px solid #eef0f3}
.num{font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f3}
.ok{color:#17813a}.bad{color:#c0262d}
.legend span{margin-right:10px}
</style></head><body>
<header><h1>ferry</h1><span id="state">connecting…</span><span id="uptime"></span><span id="updated"></span></header>
<main>
<div id="listeners"></div>
<div id="clusters"></div>
</main>
<script>
"use strict";
const classColors=["#8c8c8c","#17813a","#2f6fd6","#d68a00","#c0262d"];
const pctColors={p50:"#2f6fd6",p90:"#d68a00",p99:"#c0262d"};
function el(tag,attrs,...kids){const e=document.createElement(tag);for(const k in attrs||{})e.setAttribute(k,attrs[k]);
  for(const c of kids)e.append(c);return e;}
function fmt(v,d){return v===null||v===undefined||Number.isNaN(v)?"–":v.toFixed(d);}
function draw(canvas,points,lines){
  const w=canvas.width=canvas.clientWidth*devicePixelRatio,h=canvas.height=canvas.clientHeight*devicePixelRatio;
  const g=canvas.getContext("2d");g.clearRect(0,0,w,h);
  if(points.length<2)return;
  let max=0;for(const p of points)for(const l of lines){const v=l.get(p);if(v!==null&&v>max)max=v;}
  if(max<=0)max=1;
  const t0=points[0].t,t1=points[points.length-1].t,span=Math.max(1,t1-t0);
  g.font=(10*devicePixelRatio)+"px system-ui";g.fillStyle="#56606f";g.fillText(max.toPrecision(3),4,12*devicePixelRatio);
  for(const l of lines){g.strokeStyle=l.color;g.lineWidth=1.5*devicePixelRatio;g.beginPath();let on=false;
    for(const p of points){const v=l.get(p);if(v===null){on=false;continue;}
      const x=(p.t-t0)/span*(w-2)+1,y=h-2-(v/max)*(h-16*devicePixelRatio);
      if(on)g.lineTo(x,y);else{g.moveTo(x,y);on=true;}}
    g.stroke();}
}
function legend(items){return el("div",{class:"legend"},...items.map(([n,c])=>{const s=el("span",{},"■ "+n);s.style.color=c;return s;}));}
function panel(kind,item){
  const id=kind+"-"+item.name;let sec=document.getElementById(id);
  if(!sec){
    sec=el("section",{id:id,"data-name":item.name},el("h2",{},(kind==="listener"?"listener http.":"cluster ")+item.name),
      el("div",{class:"row"},
        el("div",{class:"card"},el("h3",{},"requests / s: ",el("span",{class:"num rps"})),el("canvas",{class:"rate"})),
        el("div",{class:"card"},el("h3",{},"responses / s by class"),el("canvas",{class:"classes"}),
          legend(classColors.map((c,i)=>[(i+1)+"xx",c]))),
        el("div",{class:"card"},el("h3",{},"latency ms: ",el("span",{class:"num pct"})),el("canvas",{class:"latency"}),
          legend(Object.entries(pctColors)))));
    if(kind==="cluster")sec.append(el("table",{class:"hosts"}));
    document.getElementById(kind+"s").append(sec);
  }
  const pts=item.points,last=pts.length?pts[pts.length-1]:null;
  sec.querySelector(".rps").textContent=last?fmt(last.rps,1):"–";
  sec.querySelector(".pct").textContent=last?("p50 "+fmt(last.p50,2)+" · p90 "+fmt(last.p90,2)+" · p99 "+fmt(last.p99,2)):"–";
  draw(sec.querySelector(".rate"),pts,[{color:"#1d2430",get:p=>p.rps}]);
  draw(sec.querySelector(".classes"),pts,classColors.map((c,i)=>({color:c,get:p=>p.xx[i]})));
  draw(sec.querySelector(".latency"),pts,Object.entries(pctColors).map(([k,c])=>({color:c,get:p=>p[k]})));
  if(kind==="cluster"){
    const t=sec.querySelector(".hosts");t.replaceChildren(el("tr",{},...["host","health","weight","priority","active rq","requests","connections","success %"].map(h=>el("th",{},h))));
    for(const h of item.hosts){
      const bad=h.failed_active_hc||h.ejected;
      const health=el("td",{class:bad?"bad":"ok"},h.ejected?"ejected":h.failed_active_hc?"failed health check":"healthy");
      t.append(el("tr",{class:"host"},el("td",{},h.address),health,el("td",{class:"num"},String(h.weight)),
        el("td",{class:"num"},String(h.priority)),el("td",{class:"num"},String(h.rq_active)),
        el("td",{class:"num"},String(h.rq_total)),el("td",{class:"num"},String(h.cx_active)),
        el("td",{class:"num"},h.success_rate<0?"–":fmt(h.success_rate,1))));
    }
  }
}
async function tick(){
  try{
    const r=await fetch("/dashboard/data",{cache:"no-store"});const d=await r.json();
    document.getElementById("state").textContent="state: "+d.server.state;
    document.getElementById("uptime").textContent="uptime "+d.server.uptime_s+" s · "+d.server.concurrency+" workers";
    document.getElementById("updated").textContent="updated "+new Date(d.now).toLocaleTimeString();
    for(const l of d.listeners)panel("listener",l);
    for(const c of d.clusters)panel("cluster",c);
    document.body.setAttribute("data-updated",String(d.now));
  }catch(e){document.getElementById("state").textContent="admin unreachable";}
}
tick();setInterval(tick,1000);
</script></body></html>
)HTML";
  return kHtml;
}

}  // namespace ferry::admin
