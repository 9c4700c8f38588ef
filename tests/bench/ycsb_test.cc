// nvobj-bench's YCSB pieces: property files, workload settings, key names,
// the generators' distributions (statistical checks with fixed seeds and
// wide tolerances, no timing) and the record encoding.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bench/ycsb/generators.h"
#include "bench/ycsb/properties.h"
#include "bench/ycsb/record.h"
#include "bench/ycsb/workload.h"

namespace nvobj::ycsb {
namespace {

// --- properties --------------------------------------------------------------

TEST(Properties, ParsesJavaPropertiesSyntax) {
  Properties p;
  ASSERT_TRUE(
      p.parse("# comment\n"
              "! also a comment\n"
              "   \n"
              "recordcount=1000\n"
              "operationcount : 2000\n"
              "readproportion 0.5\n"
              "  requestdistribution=zipfian  \n"
              "long=a\\\n"
              "     b\\\n"
              "c\n"
              "escaped\\=key=x\\ty\n"
              "empty=\n"
              "crlf=1\r\n"));
  EXPECT_EQ(p.get("recordcount", ""), "1000");
  EXPECT_EQ(p.get("operationcount", ""), "2000");
  EXPECT_EQ(p.get("readproportion", ""), "0.5");
  EXPECT_EQ(p.get("requestdistribution", ""), "zipfian  ");  // Java keeps trailing blanks
  EXPECT_EQ(p.get("long", ""), "abc");
  EXPECT_EQ(p.get("escaped=key", ""), "x\ty");
  EXPECT_TRUE(p.has("empty"));
  EXPECT_EQ(p.get("empty", "fallback"), "");
  EXPECT_EQ(p.get("crlf", ""), "1");
  EXPECT_EQ(p.get("absent", "fallback"), "fallback");
}

TEST(Properties, LaterSettingsAndAssignmentsWin) {
  Properties p;
  ASSERT_TRUE(p.parse("recordcount=1000\nrecordcount=5\n"));
  EXPECT_EQ(*p.get_int("recordcount", 0), 5);
  ASSERT_TRUE(p.parse_assignment("recordcount=42"));
  EXPECT_EQ(*p.get_int("recordcount", 0), 42);
  ASSERT_TRUE(p.parse_assignment("x=a=b"));
  EXPECT_EQ(p.get("x", ""), "a=b");
  EXPECT_FALSE(p.parse_assignment("novalue"));
  EXPECT_FALSE(p.parse_assignment("=1"));
}

TEST(Properties, TypedGettersRefuseMalformedValues) {
  Properties p;
  ASSERT_TRUE(p.parse("n=12x\nd=0.5.1\nb=yes\nok=TRUE\nf=false\ni=-7\nx=1e3\n"));
  EXPECT_EQ(p.get_int("n", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.get_double("d", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.get_bool("b", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(*p.get_bool("ok", false));
  EXPECT_FALSE(*p.get_bool("f", true));
  EXPECT_EQ(*p.get_int("i", 0), -7);
  EXPECT_DOUBLE_EQ(*p.get_double("x", 0), 1000);
  EXPECT_EQ(*p.get_int("absent", 9), 9);
}

TEST(Properties, MissingFileIsAnError) {
  Properties p;
  Status st = p.load_file("/nonexistent/workloada");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
}

// --- workload settings -------------------------------------------------------

WorkloadSpec load_workload(const std::string& letter) {
  Properties p;
  Status st = p.load_file(std::string(NVOBJ_SOURCE_DIR) + "/bench/workloads/workload" + letter);
  EXPECT_TRUE(st) << st.to_string();
  auto spec = WorkloadSpec::from_properties(p, "workload" + letter);
  EXPECT_TRUE(spec) << spec.status().to_string();
  return *spec;
}

TEST(Workload, ShippedFilesHoldYcsbsCoreWorkloads) {
  struct Expect {
    std::string letter;
    double read, update, insert, scan, rmw;
    std::string distribution;
  };
  const Expect expected[] = {
      {"a", 0.5, 0.5, 0, 0, 0, "zipfian"},   {"b", 0.95, 0.05, 0, 0, 0, "zipfian"},
      {"c", 1, 0, 0, 0, 0, "zipfian"},       {"d", 0.95, 0, 0.05, 0, 0, "latest"},
      {"e", 0, 0, 0.05, 0.95, 0, "zipfian"}, {"f", 0.5, 0, 0, 0, 0.5, "zipfian"},
  };
  for (const Expect& e : expected) {
    SCOPED_TRACE(e.letter);
    WorkloadSpec s = load_workload(e.letter);
    EXPECT_EQ(s.record_count, 1000);
    EXPECT_EQ(s.operation_count, 1000);
    EXPECT_DOUBLE_EQ(s.read_proportion, e.read);
    EXPECT_DOUBLE_EQ(s.update_proportion, e.update);
    EXPECT_DOUBLE_EQ(s.insert_proportion, e.insert);
    EXPECT_DOUBLE_EQ(s.scan_proportion, e.scan);
    EXPECT_DOUBLE_EQ(s.read_modify_write_proportion, e.rmw);
    EXPECT_EQ(s.request_distribution, e.distribution);
    EXPECT_EQ(s.field_count, 10);
    EXPECT_EQ(s.field_length, 100);
    EXPECT_TRUE(s.read_all_fields);
    EXPECT_FALSE(s.write_all_fields);
    EXPECT_FALSE(s.ordered_inserts);
  }
  WorkloadSpec e = load_workload("e");
  EXPECT_EQ(e.max_scan_length, 100);
  EXPECT_EQ(e.scan_length_distribution, "uniform");
}

TEST(Workload, DefaultsAndRefusals) {
  Properties p;
  auto s = WorkloadSpec::from_properties(p, "defaults");
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->read_proportion, 0.95);  // YCSB's CoreWorkload defaults
  EXPECT_DOUBLE_EQ(s->update_proportion, 0.05);
  EXPECT_EQ(s->request_distribution, "uniform");
  EXPECT_EQ(s->max_scan_length, 1000);
  EXPECT_EQ(s->zero_padding, 1);
  EXPECT_EQ(s->key_range(), 1000);

  for (const char* bad :
       {"recordcount=0", "fieldcount=0", "insertorder=random", "readproportion=-1",
        "minscanlength=5", "insertcount=2000", "minfieldlength=200", "readallfields=maybe"}) {
    SCOPED_TRACE(bad);
    Properties q;
    ASSERT_TRUE(q.parse_assignment(bad));
    if (std::string(bad) == "minscanlength=5") {
      ASSERT_TRUE(q.parse_assignment("maxscanlength=4"));
    }
    EXPECT_EQ(WorkloadSpec::from_properties(q, "bad").status().code(),
              StatusCode::kInvalidArgument);
  }
  Properties none;
  ASSERT_TRUE(none.parse("readproportion=0\nupdateproportion=0\n"));
  EXPECT_FALSE(WorkloadSpec::from_properties(none, "nothing"));
  Properties dist;
  ASSERT_TRUE(dist.parse_assignment("requestdistribution=gaussian"));
  auto g = WorkloadSpec::from_properties(dist, "g");
  ASSERT_TRUE(g);  // checked when the chooser is built
  AcknowledgedCounterGenerator inserts(1000);
  EXPECT_FALSE(KeyChooser::make(*g, inserts, nullptr));
}

TEST(Workload, KeyNamesMatchYcsb) {
  // Known YCSB keys: record 0 of a hashed load is user6284781860667377211.
  EXPECT_EQ(build_key_name(0, 1, false), "user6284781860667377211");
  EXPECT_EQ(build_key_name(1, 1, false), "user8517097267634966620");
  EXPECT_EQ(build_key_name(12345, 1, false), "user1792800413050876852");
  EXPECT_EQ(build_key_name(42, 1, true), "user42");
  EXPECT_EQ(build_key_name(42, 5, true), "user00042");
  EXPECT_EQ(build_key_name(123456, 3, true), "user123456");
}

TEST(Workload, Hashes) {
  EXPECT_EQ(fnvhash64(0), 6284781860667377211);
  EXPECT_EQ(fnvhash64(2), 1820151046732198393);
  EXPECT_EQ(fnvhash64(-1), 8289690350564177859);
  EXPECT_EQ(java_string_hash("hello"), 99162322);
  EXPECT_EQ(java_string_hash("user1"), 111578566);
  EXPECT_EQ(java_string_hash("user6284781860667377211"), -594971599);
  EXPECT_EQ(java_string_hash(""), 0);
}

TEST(Workload, OperationMixFollowsProportions) {
  WorkloadSpec s;
  s.read_proportion = 0.5;
  s.update_proportion = 0.2;
  s.insert_proportion = 0.1;
  s.scan_proportion = 0.15;
  s.read_modify_write_proportion = 0.05;
  DiscreteGenerator<Op> g = make_operation_chooser(s);
  Rng rng(7);
  std::map<Op, int> n;
  constexpr int kDraws = 200'000;
  for (int i = 0; i < kDraws; ++i) ++n[g.next(rng)];
  EXPECT_NEAR(n[Op::kRead] / double(kDraws), 0.5, 0.01);
  EXPECT_NEAR(n[Op::kUpdate] / double(kDraws), 0.2, 0.01);
  EXPECT_NEAR(n[Op::kInsert] / double(kDraws), 0.1, 0.01);
  EXPECT_NEAR(n[Op::kScan] / double(kDraws), 0.15, 0.01);
  EXPECT_NEAR(n[Op::kReadModifyWrite] / double(kDraws), 0.05, 0.01);
}

// --- generators ----------------------------------------------------------------

TEST(Generators, RngIsDeterministicAndInRange) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    differs |= x != c.next_u64();
    double d = a.next_double();
    b.next_double();
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1.0);
    EXPECT_LT(a.next_below(7), 7u);
    b.next_below(7);
  }
  EXPECT_TRUE(differs);
}

TEST(Generators, UniformCoversItsRangeEvenly) {
  UniformGenerator g(10, 19);
  Rng rng(1);
  std::map<int64_t, int> n;
  for (int i = 0; i < 100'000; ++i) ++n[g.next(rng)];
  ASSERT_EQ(n.size(), 10u);
  EXPECT_EQ(n.begin()->first, 10);
  EXPECT_EQ(n.rbegin()->first, 19);
  for (const auto& [k, c] : n) EXPECT_NEAR(c, 10'000, 600) << k;
}

TEST(Generators, ZetaIsIncremental) {
  double full = ZipfianGenerator::zeta(0, 1000, 0.99, 0);
  EXPECT_NEAR(full, 7.728953217284729, 1e-9);
  double part = ZipfianGenerator::zeta(0, 400, 0.99, 0);
  EXPECT_NEAR(ZipfianGenerator::zeta(400, 1000, 0.99, part), full, 1e-9);
}

TEST(Generators, ZipfianFavoursLowItemsWithTheExpectedSkew) {
  ZipfianGenerator g(0, 999);
  Rng rng(3);
  std::vector<int> n(1000);
  constexpr int kDraws = 500'000;
  for (int i = 0; i < kDraws; ++i) {
    int64_t v = g.next(rng);
    ASSERT_GE(v, 0);
    ASSERT_LE(v, 999);
    ++n[static_cast<size_t>(v)];
  }
  // P(item i) = 1 / ((i+1)^0.99 * zeta(1000)): item 0 about 12.9%.
  double zetan = ZipfianGenerator::zeta(0, 1000, 0.99, 0);
  EXPECT_NEAR(n[0] / double(kDraws), 1 / zetan, 0.005);
  EXPECT_NEAR(n[1] / double(kDraws), 1 / (std::pow(2, 0.99) * zetan), 0.005);
  EXPECT_GT(n[0], n[1]);
  EXPECT_GT(n[1], n[10]);
  EXPECT_GT(n[10], n[500]);
  int top10 = 0;
  for (int i = 0; i < 10; ++i) top10 += n[static_cast<size_t>(i)];
  EXPECT_NEAR(top10 / double(kDraws), 0.38, 0.03);  // sum_{i<10} / zeta(1000)
}

TEST(Generators, ZipfianGrowsItsItemCountIncrementally) {
  ZipfianGenerator g(0, 99);
  Rng rng(5);
  int64_t max_seen = 0;
  for (int i = 0; i < 200'000; ++i) {
    int64_t v = g.next_long(rng, 200);
    ASSERT_LT(v, 200);
    max_seen = std::max(max_seen, v);
  }
  EXPECT_GE(max_seen, 100);  // the new items are reachable
  EXPECT_NEAR(g.zetan(), ZipfianGenerator::zeta(0, 200, 0.99, 0), 1e-9);
}

TEST(Generators, ScrambledZipfianStaysInRangeAndScattersPopularKeys) {
  ScrambledZipfianGenerator g(1000, 1999);
  Rng rng(9);
  std::map<int64_t, int> n;
  constexpr int kDraws = 300'000;
  for (int i = 0; i < kDraws; ++i) {
    int64_t v = g.next(rng);
    ASSERT_GE(v, 1000);
    ASSERT_LE(v, 1999);
    ++n[v];
  }
  std::vector<std::pair<int, int64_t>> by_count;
  for (const auto& [k, c] : n) by_count.push_back({c, k});
  std::sort(by_count.rbegin(), by_count.rend());
  // Skewed: the most popular key gets several percent of the draws...
  EXPECT_GT(by_count[0].first / double(kDraws), 0.02);
  // ...and it is the hash of Zipfian item 0, not key 1000 (scrambled).
  EXPECT_EQ(by_count[0].second, 1000 + fnvhash64(0) % 1000);
  // The popular keys are spread over the range, not clustered at its start.
  int64_t lo = 2000, hi = 0;
  for (int i = 0; i < 10; ++i) {
    lo = std::min(lo, by_count[static_cast<size_t>(i)].second);
    hi = std::max(hi, by_count[static_cast<size_t>(i)].second);
  }
  EXPECT_GT(hi - lo, 300);
}

TEST(Generators, AcknowledgedCounterAdvancesOverContiguousAcks) {
  AcknowledgedCounterGenerator c(100);
  EXPECT_EQ(c.last_value(), 99);
  EXPECT_EQ(c.next(), 100);
  EXPECT_EQ(c.next(), 101);
  EXPECT_EQ(c.next(), 102);
  EXPECT_TRUE(c.acknowledge(101));
  EXPECT_EQ(c.last_value(), 99);  // 100 still outstanding
  EXPECT_TRUE(c.acknowledge(100));
  EXPECT_EQ(c.last_value(), 101);
  EXPECT_TRUE(c.acknowledge(102));
  EXPECT_EQ(c.last_value(), 102);
  EXPECT_TRUE(c.acknowledge(102));  // twice: harmless
  EXPECT_FALSE(c.acknowledge(102 + AcknowledgedCounterGenerator::kWindow + 1));
}

TEST(Generators, SkewedLatestFavoursRecentInserts) {
  AcknowledgedCounterGenerator c(1000);
  SkewedLatestGenerator g(c);
  Rng rng(11);
  int recent = 0;
  constexpr int kDraws = 100'000;
  for (int i = 0; i < kDraws; ++i) {
    int64_t v = g.next(rng);
    ASSERT_GE(v, 0);
    ASSERT_LE(v, 999);
    recent += v >= 990 ? 1 : 0;
  }
  EXPECT_GT(recent / double(kDraws), 0.3);  // the 10 latest of 1000 records
  // After inserts the popular end moves with them.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.acknowledge(c.next()));
  int64_t max_seen = 0;
  for (int i = 0; i < 10'000; ++i) max_seen = std::max(max_seen, g.next(rng));
  EXPECT_EQ(max_seen, 1009);
}

TEST(Generators, HotspotSendsTheHotShareToTheHotSet) {
  HotspotGenerator g(0, 999, 0.2, 0.8);
  Rng rng(13);
  int hot = 0;
  constexpr int kDraws = 100'000;
  for (int i = 0; i < kDraws; ++i) {
    int64_t v = g.next(rng);
    ASSERT_GE(v, 0);
    ASSERT_LE(v, 999);
    hot += v < 200 ? 1 : 0;
  }
  EXPECT_NEAR(hot / double(kDraws), 0.8, 0.01);
}

TEST(Generators, SequentialWrapsAndExponentialIsMostlySmall) {
  SequentialGenerator s(5, 7);
  std::vector<int64_t> got;
  for (int i = 0; i < 7; ++i) got.push_back(s.next());
  EXPECT_EQ(got, (std::vector<int64_t>{5, 6, 7, 5, 6, 7, 5}));
  ExponentialGenerator e(95, 1000);
  Rng rng(17);
  int below = 0;
  for (int i = 0; i < 100'000; ++i) below += e.next(rng) < 1000 ? 1 : 0;
  EXPECT_NEAR(below / 100'000.0, 0.95, 0.01);
}

TEST(Generators, KeyChooserNeverPicksUnacknowledgedKeys) {
  for (const char* dist :
       {"uniform", "zipfian", "latest", "hotspot", "exponential", "sequential"}) {
    SCOPED_TRACE(dist);
    WorkloadSpec s;
    s.record_count = 500;
    s.operation_count = 10'000;
    s.insert_proportion = 0.5;  // zipfian's range then extends past the records
    s.request_distribution = dist;
    AcknowledgedCounterGenerator inserts(500);
    auto k = KeyChooser::make(s, inserts, nullptr);
    ASSERT_TRUE(k) << k.status().to_string();
    Rng rng(19);
    std::set<int64_t> seen;
    for (int i = 0; i < 20'000; ++i) {
      int64_t v = k->next(rng);
      ASSERT_GE(v, 0);
      ASSERT_LE(v, inserts.last_value());
      seen.insert(v);
    }
    EXPECT_GT(seen.size(), 50u);
  }
}

TEST(Generators, LengthChoosers) {
  WorkloadSpec s;
  s.field_length = 100;
  Rng rng(23);
  auto c = make_field_length_chooser(s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->next(rng), 100);
  s.field_length_distribution = "uniform";
  auto u = make_field_length_chooser(s);
  ASSERT_TRUE(u);
  for (int i = 0; i < 1000; ++i) {
    int64_t v = u->next(rng);
    ASSERT_GE(v, 1);
    ASSERT_LE(v, 100);
  }
  s.field_length_distribution = "histogram";
  EXPECT_FALSE(make_field_length_chooser(s));
  s.max_scan_length = 100;
  s.scan_length_distribution = "zipfian";
  auto z = make_scan_length_chooser(s);
  ASSERT_TRUE(z);
  int ones = 0;
  for (int i = 0; i < 10'000; ++i) {
    int64_t v = z->next(rng);
    ASSERT_GE(v, 1);
    ASSERT_LE(v, 100);
    ones += v == 1 ? 1 : 0;
  }
  EXPECT_GT(ones, 1000);  // length 1 is the most popular
}

TEST(Generators, ValueSourceGivesPrintableSlices) {
  ValueSource v(29, 1 << 16);
  Rng rng(31);
  for (size_t len : {0u, 1u, 100u, 65536u}) {
    std::string_view s = v.value(rng, len);
    ASSERT_EQ(s.size(), len);
    for (char c : s) ASSERT_TRUE(c >= ' ' && c <= '~');
  }
}

// --- records -------------------------------------------------------------------

TEST(Record, EncodesDecodesAndReplacesFields) {
  std::string rec;
  std::vector<std::string> fields = {"alpha", "", std::string(300, 'x'), "omega"};
  for (const auto& f : fields) append_field(&rec, f);
  EXPECT_EQ(rec.size(), 4 * 4 + 5 + 0 + 300 + 5);
  std::vector<std::string> out = {"stale", "stale", "stale", "stale", "extra"};
  ASSERT_TRUE(decode_fields(rec, &out));
  EXPECT_EQ(out, fields);
  std::string one;
  ASSERT_TRUE(decode_field(rec, 2, &one));
  EXPECT_EQ(one, fields[2]);
  EXPECT_FALSE(decode_field(rec, 4, &one));

  std::string next;
  ASSERT_TRUE(replace_field(rec, 1, "new value", &next));
  ASSERT_TRUE(decode_fields(next, &out));
  EXPECT_EQ(out, (std::vector<std::string>{"alpha", "new value", std::string(300, 'x'), "omega"}));
  ASSERT_TRUE(replace_field(next, 3, "", &rec));
  ASSERT_TRUE(decode_fields(rec, &out));
  EXPECT_EQ(out.back(), "");
  EXPECT_FALSE(replace_field(rec, 4, "x", &next));
}

TEST(Record, RefusesMalformedRecords) {
  std::string rec;
  append_field(&rec, "hello");
  std::vector<std::string> out;
  EXPECT_FALSE(decode_fields(rec.substr(0, rec.size() - 1), &out));  // cut value
  EXPECT_FALSE(decode_fields(rec.substr(0, 3), &out));               // cut length
  std::string one;
  EXPECT_FALSE(decode_field(std::string("\xff\xff\xff\x7f", 4), 0, &one));
  ASSERT_TRUE(decode_fields("", &out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace nvobj::ycsb
