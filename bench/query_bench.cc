// Google Benchmark: the query path of epmdnsd without sockets (parse + lookup + answer).
// Run: build/bench/query_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "query/respond.h"
#include "wire/message.h"
#include "wire/name.h"
#include "wire/writer.h"
#include "zone/loader.h"

namespace {

using namespace epmdns;

constexpr int kNodes = 10000;

// A zone in the README's layout: one node per host.
std::string cluster_zone_text(int nodes) {
  std::string text =
      "$ORIGIN erl.internal.\n$TTL 60\n"
      "@ IN SOA ns1 hostmaster 1 3600 600 86400 30\n@ IN NS ns1\nns1 IN A 127.0.0.1\n";
  char line[640];
  for (int i = 0; i < nodes; ++i) {
    std::snprintf(line, sizeof line,
                  "h%d IN A 10.%d.%d.%d\n"
                  "n%d._erlang-dist._tcp.h%d IN SRV 0 0 %d h%d\n"
                  "n%d._erlang-dist._tcp.h%d IN TXT \"vsn=6\"\n"
                  "_erlang-dist._tcp.h%d IN PTR n%d._erlang-dist._tcp.h%d\n"
                  "_erlang-dist._tcp IN PTR n%d._erlang-dist._tcp.h%d\n",
                  i, (i >> 16) & 255, (i >> 8) & 255, i & 255, i, i, 20000 + i % 40000, i, i, i, i, i, i, i, i);
    text += line;
  }
  return text;
}

const zone::Catalog& catalog() {
  static const zone::Catalog instance = [] {
    auto zone = zone::load_zone_text(cluster_zone_text(kNodes), "bench", "erl.internal.");
    if (!zone.ok()) std::abort();
    zone::Catalog c;
    c.add(std::move(*zone));
    return c;
  }();
  return instance;
}

std::vector<uint8_t> make_query(const std::string& name, uint16_t type) {
  std::array<uint8_t, 512> buf{};
  wire::Writer writer(buf);
  wire::Name qname;
  if (!qname.assign_text(name)) std::abort();
  const uint16_t header[6] = {0x1234, 0, 1, 0, 0, 1};
  for (uint16_t v : header) writer.put_u16(v);
  writer.put_name(qname.wire());
  writer.put_u16(type);
  writer.put_u16(1);
  // OPT: EDNS(0), 1232 bytes
  writer.put_u8(0);
  writer.put_u16(41);
  writer.put_u16(1232);
  writer.put_u32(0);
  writer.put_u16(0);
  return {writer.data().begin(), writer.data().end()};
}

std::vector<std::vector<uint8_t>> srv_queries() {
  std::vector<std::vector<uint8_t>> queries;
  for (int i = 0; i < 1024; ++i) {
    const int n = (i * 7919) % kNodes;
    char name[128];
    std::snprintf(name, sizeof name, "n%d._erlang-dist._tcp.h%d.erl.internal.", n, n);
    queries.push_back(make_query(name, 33));
  }
  return queries;
}

void BM_ParseQuery(benchmark::State& state) {
  const auto queries = srv_queries();
  wire::Query query;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(wire::parse_query(queries[i++ & 1023], query));
  }
}
BENCHMARK(BM_ParseQuery);

void answer_loop(benchmark::State& state, const std::vector<std::vector<uint8_t>>& queries) {
  const zone::Catalog& zones = catalog();
  std::array<uint8_t, 4096> out{};
  query::Limits limits;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    bytes += query::respond(zones, queries[i++ % queries.size()], out, query::Transport::kUdp, limits);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/answer"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}

// Parse + lookup + SRV answer with A and TXT in the additional section.
void BM_AnswerSrv(benchmark::State& state) { answer_loop(state, srv_queries()); }
BENCHMARK(BM_AnswerSrv);

void BM_AnswerNxdomain(benchmark::State& state) {
  answer_loop(state, {make_query("missing._erlang-dist._tcp.h1.erl.internal.", 33)});
}
BENCHMARK(BM_AnswerNxdomain);

void BM_AnswerHostBrowse(benchmark::State& state) {
  answer_loop(state, {make_query("_erlang-dist._tcp.h42.erl.internal.", 12)});
}
BENCHMARK(BM_AnswerHostBrowse);

}  // namespace

BENCHMARK_MAIN();
