// LookupCache (resolver/cache.h) with a fake clock and a fake fetch that only records what
// it was asked: TTLs, negative answers, refresh, serve-stale, eviction, merged lookups.
#include "resolver/cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <vector>

namespace epmdns::resolver {
namespace {

using namespace std::chrono_literals;
using Cache = LookupCache<NodeResult>;

struct Fixture {
  std::chrono::steady_clock::time_point now{};  // advanced by hand
  std::vector<std::pair<std::string, Cache::Callback>> fetches;  // not yet answered
  int fetch_count = 0;

  std::unique_ptr<Cache> make(CacheOptions options = {}) {
    return std::make_unique<Cache>(
        options,
        [this](const std::string& key, Cache::Callback done) {
          ++fetch_count;
          fetches.emplace_back(key, std::move(done));
        },
        [this] { return now; });
  }

  // Answers the oldest pending fetch.
  void answer(const NodeResult& result) {
    ASSERT_FALSE(fetches.empty());
    auto done = std::move(fetches.front().second);
    fetches.erase(fetches.begin());
    done(result);
  }

  // One lookup; its result if it came back at once (a later answer is dropped).
  std::optional<NodeResult> lookup(Cache& cache, const std::string& key) {
    auto out = std::make_shared<std::optional<NodeResult>>();
    cache.lookup(key, [out](const NodeResult& r) { *out = r; });
    return *out;
  }
};

NodeResult ok(uint16_t port, uint32_t ttl) {
  NodeResult r;
  r.status = Status::kOk;
  r.address_text = "127.0.0.1";
  r.port = port;
  r.ttl = ttl;
  return r;
}

NodeResult failed(Status status, uint32_t ttl = 0) {
  NodeResult r;
  r.status = status;
  r.ttl = ttl;
  return r;
}

TEST(Cache, MissFetchesThenHitsUntilTheTtl) {
  Fixture f;
  auto cache = f.make();
  EXPECT_FALSE(f.lookup(*cache, "a"));
  EXPECT_EQ(f.fetch_count, 1);
  f.answer(ok(4370, 60));
  f.now += 10s;
  auto hit = f.lookup(*cache, "a");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->port, 4370);
  EXPECT_EQ(hit->ttl, 50u);  // what is left
  EXPECT_FALSE(hit->stale);
  EXPECT_EQ(f.fetch_count, 1);
  EXPECT_TRUE(cache->try_get("a"));
  EXPECT_FALSE(cache->try_get("b"));
  f.now += 50s;  // expired
  EXPECT_FALSE(f.lookup(*cache, "a"));
  EXPECT_FALSE(cache->try_get("a"));
  EXPECT_EQ(f.fetch_count, 2);
}

TEST(Cache, FetchedAnswerReachesTheCaller) {
  Fixture f;
  auto cache = f.make();
  std::optional<NodeResult> got;
  cache->lookup("a", [&](const NodeResult& r) { got = r; });
  f.answer(ok(4370, 60));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, Status::kOk);
  EXPECT_EQ(got->port, 4370);
}

TEST(Cache, NegativeAnswersAreKeptForTheirCappedTtl) {
  Fixture f;
  CacheOptions options;
  options.max_negative_ttl = 30s;
  auto cache = f.make(options);
  f.lookup(*cache, "nx");
  f.answer(failed(Status::kNotFound, 3600));  // SOA-derived TTL, capped to 30 s
  f.now += 20s;  // before the refresh point (25.5 s)
  auto hit = f.lookup(*cache, "nx");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->status, Status::kNotFound);
  EXPECT_EQ(hit->ttl, 10u);
  EXPECT_EQ(f.fetch_count, 1);
  f.now += 10s;
  EXPECT_FALSE(f.lookup(*cache, "nx"));
  EXPECT_EQ(f.fetch_count, 2);
}

TEST(Cache, ZeroTtlIsNotKept) {
  Fixture f;
  auto cache = f.make();
  f.lookup(*cache, "a");
  f.answer(failed(Status::kNotFound, 0));  // no SOA
  EXPECT_FALSE(f.lookup(*cache, "a"));
  EXPECT_EQ(cache->size(), 0u);
}

TEST(Cache, IdenticalLookupsInFlightShareOneFetch) {
  Fixture f;
  auto cache = f.make();
  int answered = 0;
  for (int i = 0; i < 5; ++i) {
    cache->lookup("a", [&](const NodeResult& r) {
      EXPECT_EQ(r.port, 4370);
      ++answered;
    });
  }
  cache->lookup("b", [&](const NodeResult&) { ++answered; });
  EXPECT_EQ(f.fetch_count, 2);
  f.answer(ok(4370, 60));
  EXPECT_EQ(answered, 5);
  f.answer(ok(1, 60));
  EXPECT_EQ(answered, 6);
}

TEST(Cache, HotEntryIsRefreshedOnceInTheBackground) {
  Fixture f;
  CacheOptions options;
  options.refresh_percent = 15;
  auto cache = f.make(options);
  f.lookup(*cache, "a");
  f.answer(ok(4370, 100));
  f.now += 80s;  // before the last 15%
  ASSERT_TRUE(f.lookup(*cache, "a"));
  EXPECT_EQ(f.fetch_count, 1);
  f.now += 6s;  // in the last 15%: answered from memory, and one refresh starts
  ASSERT_TRUE(f.lookup(*cache, "a"));
  ASSERT_TRUE(cache->try_get("a"));
  ASSERT_TRUE(f.lookup(*cache, "a"));
  EXPECT_EQ(f.fetch_count, 2);
  f.answer(ok(4371, 100));  // the refresh renews the entry
  f.now += 90s;
  auto hit = f.lookup(*cache, "a");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->port, 4371);
}

TEST(Cache, AnswerOlderThanRefreshAfterIsServedAndRenewed) {
  Fixture f;
  CacheOptions options;
  options.refresh_after = 1000ms;
  auto cache = f.make(options);
  f.lookup(*cache, "a");
  f.answer(ok(4370, 60));
  f.now += 500ms;  // young: from memory, no refresh
  ASSERT_TRUE(cache->try_get("a"));
  EXPECT_EQ(f.fetch_count, 1);
  f.now += 1s;  // older than refresh_after: still answered at once, and one refresh starts
  auto old = cache->try_get("a");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->port, 4370);
  ASSERT_TRUE(cache->try_get("a"));
  EXPECT_EQ(f.fetch_count, 2);
  f.answer(ok(5000, 60));  // the node came back on another port
  auto renewed = cache->try_get("a");
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->port, 5000);
  EXPECT_EQ(f.fetch_count, 2);
}

TEST(Cache, FailedRefreshKeepsTheEntry) {
  Fixture f;
  auto cache = f.make();
  f.lookup(*cache, "a");
  f.answer(ok(4370, 100));
  f.now += 90s;
  ASSERT_TRUE(f.lookup(*cache, "a"));  // starts a refresh
  f.answer(failed(Status::kTimeout));
  auto hit = f.lookup(*cache, "a");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->port, 4370);
  EXPECT_FALSE(hit->stale);
}

TEST(Cache, StaleAnswerWhenEveryServerFailsWithinTheWindow) {
  Fixture f;
  CacheOptions options;
  options.stale_for = 3600s;
  auto cache = f.make(options);
  f.lookup(*cache, "a");
  f.answer(ok(4370, 60));
  f.now += 120s;  // expired: a real lookup is tried first
  std::optional<NodeResult> got;
  cache->lookup("a", [&](const NodeResult& r) { got = r; });
  EXPECT_FALSE(got);
  f.answer(failed(Status::kServerFailure));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, Status::kOk);
  EXPECT_EQ(got->port, 4370);
  EXPECT_TRUE(got->stale);
  EXPECT_EQ(got->ttl, kStaleTtl);
  EXPECT_FALSE(cache->try_get("a"));  // stale answers only when the servers fail

  // Past the window: the failure itself.
  f.now += 3600s;
  got.reset();
  cache->lookup("a", [&](const NodeResult& r) { got = r; });
  f.answer(failed(Status::kTimeout));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, Status::kTimeout);
  EXPECT_FALSE(got->stale);
}

TEST(Cache, NewAnswerAfterStaleIsFreshAgain) {
  Fixture f;
  auto cache = f.make();
  f.lookup(*cache, "a");
  f.answer(ok(4370, 60));
  f.now += 61s;
  f.lookup(*cache, "a");
  f.answer(failed(Status::kTimeout));
  f.lookup(*cache, "a");
  f.answer(ok(4372, 60));
  auto hit = f.lookup(*cache, "a");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->port, 4372);
  EXPECT_FALSE(hit->stale);
}

TEST(Cache, StaleDisabled) {
  Fixture f;
  CacheOptions options;
  options.stale_for = 0s;
  auto cache = f.make(options);
  f.lookup(*cache, "a");
  f.answer(ok(4370, 60));
  f.now += 61s;
  std::optional<NodeResult> got;
  cache->lookup("a", [&](const NodeResult& r) { got = r; });
  f.answer(failed(Status::kTimeout));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, Status::kTimeout);
}

TEST(Cache, CancelledIsPassedThroughAndNotStored) {
  Fixture f;
  auto cache = f.make();
  std::optional<NodeResult> got;
  cache->lookup("a", [&](const NodeResult& r) { got = r; });
  f.answer(failed(Status::kCancelled));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, Status::kCancelled);
  EXPECT_EQ(cache->size(), 0u);
}

TEST(Cache, LeastRecentlyUsedIsEvicted) {
  Fixture f;
  CacheOptions options;
  options.max_entries = 2;
  auto cache = f.make(options);
  for (const char* key : {"a", "b"}) {
    f.lookup(*cache, key);
    f.answer(ok(1, 60));
  }
  ASSERT_TRUE(f.lookup(*cache, "a"));  // b is now the least recently used
  f.lookup(*cache, "c");
  f.answer(ok(3, 60));
  EXPECT_EQ(cache->size(), 2u);
  EXPECT_TRUE(cache->try_get("a"));
  EXPECT_FALSE(cache->try_get("b"));
  EXPECT_TRUE(cache->try_get("c"));
}

TEST(Cache, ShardedCacheStaysBounded) {
  Fixture f;
  CacheOptions options;
  options.max_entries = 2048;
  auto cache = f.make(options);
  for (int i = 0; i < 10000; ++i) {
    f.lookup(*cache, "k" + std::to_string(i));
    f.answer(ok(1, 60));
  }
  EXPECT_LE(cache->size(), 2048u + 16u);
  EXPECT_GE(cache->size(), 1024u);
  EXPECT_TRUE(cache->try_get("k9999"));
}

TEST(Cache, MaxTtlBoundsLongTtls) {
  Fixture f;
  CacheOptions options;
  options.max_ttl = 100s;
  auto cache = f.make(options);
  f.lookup(*cache, "a");
  f.answer(ok(1, 86400));
  f.now += 101s;
  EXPECT_FALSE(cache->try_get("a"));
}

TEST(Cache, CallbackMayLookUpAgain) {
  Fixture f;
  auto cache = f.make();
  f.lookup(*cache, "a");
  f.answer(ok(1, 60));
  bool inner = false;
  cache->lookup("a", [&](const NodeResult&) {
    cache->lookup("a", [&](const NodeResult&) { inner = true; });
  });
  EXPECT_TRUE(inner);
}

TEST(Cache, ManyThreadsEveryCallbackOnce) {
  CacheOptions options;
  options.max_entries = 4;  // constant eviction
  std::atomic<int> fetches{0};
  std::mutex pending_mutex;
  std::vector<Cache::Callback> pending;
  Cache cache(options, [&](const std::string&, Cache::Callback done) {
    ++fetches;
    if (fetches % 2) return done(ok(1, 1));
    std::lock_guard lock(pending_mutex);  // answered later, from another thread
    pending.push_back(std::move(done));
  });
  std::atomic<bool> stop{false};
  std::thread answerer([&] {
    while (!stop) {
      std::vector<Cache::Callback> batch;
      {
        std::lock_guard lock(pending_mutex);
        batch.swap(pending);
      }
      for (auto& done : batch) done(failed(Status::kTimeout));
      std::this_thread::yield();
    }
  });
  constexpr int kThreads = 4, kCalls = 5000;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        cache.lookup("k" + std::to_string((i * 7 + t) % 16), [&](const NodeResult&) { ++answered; });
        if (i % 3 == 0) cache.try_get("k" + std::to_string(i % 16));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  while (answered < kThreads * kCalls) std::this_thread::yield();
  stop = true;
  answerer.join();
  EXPECT_EQ(answered, kThreads * kCalls);
  EXPECT_LE(cache.size(), 4u);
}

}  // namespace
}  // namespace epmdns::resolver
