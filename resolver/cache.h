// The cache in front of the Resolver's lookups: answers (positive and negative) kept for
// their TTL, identical lookups in flight merged into one fetch, hot entries refreshed before
// they expire, and the last answer served stale (RFC 8767) when the servers fail.
// Thread-safe: sharded maps under short mutexes; callers, the NIF and the resolver thread
// read it at once. A template over the result type (NodeResult, NamesResult, NodesResult).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "resolver/result.h"

namespace epmdns::resolver {

struct CacheOptions {
  bool enabled = true;                             // false: every call goes to the network
  size_t max_entries = 100000;                     // per kind of lookup; least recently used go
  std::chrono::seconds stale_for{3600};            // serve-stale window after expiry (0: never)
  std::chrono::seconds max_negative_ttl{30};       // NXDOMAIN/NODATA kept at most this long
  std::chrono::seconds max_ttl{86400};             // any answer kept at most this long
  int refresh_percent = 15;                        // a hit in the last N% of the TTL refreshes
  // A hit on an answer older than this also refreshes it in the background (0: only the
  // TTL rule above). The hit itself is still answered at once from memory.
  std::chrono::milliseconds refresh_after{0};
};

// A stale answer says its TTL is this (RFC 8767 §4 recommends 30 s), or what is left of
// the stale window if that is less.
inline constexpr uint32_t kStaleTtl = 30;

using CacheClock = std::function<std::chrono::steady_clock::time_point()>;

// Answers that are stored: kOk and kNotFound (a negative answer). kTimeout and
// kServerFailure never replace an entry; they are replaced by a stale one if there is one.
inline bool cacheable(Status status) { return status == Status::kOk || status == Status::kNotFound; }
inline bool serve_stale_on(Status status) { return status == Status::kTimeout || status == Status::kServerFailure; }

template <typename Result>
class LookupCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Callback = std::function<void(const Result&)>;
  // Starts one real lookup of `key`; `done` runs exactly once, on any thread (even before
  // fetch returns). Called without any cache lock held.
  using Fetch = std::function<void(const std::string& key, Callback done)>;

  LookupCache(CacheOptions options, Fetch fetch, CacheClock clock = nullptr)
      : options_(options), fetch_(std::move(fetch)),
        clock_(clock ? std::move(clock) : CacheClock([] { return std::chrono::steady_clock::now(); })) {
    options_.max_entries = std::max<size_t>(options_.max_entries, 1);
    options_.refresh_percent = std::clamp(options_.refresh_percent, 0, 100);
    // Small caches keep one exact LRU; big ones spread the lock over shards.
    const size_t shards = options_.max_entries < 1024 ? 1 : kMaxShards;
    per_shard_ = (options_.max_entries + shards - 1) / shards;
    shards_.reserve(shards);
    for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
  }
  LookupCache(const LookupCache&) = delete;
  LookupCache& operator=(const LookupCache&) = delete;

  // The answer for `key`: at once from memory while fresh (on this thread, before lookup
  // returns; a hot entry is also refreshed in the background), otherwise from a fetch
  // shared with every identical lookup in flight (on the thread that completes it).
  void lookup(std::string_view key, Callback callback) {
    const auto now = clock_();
    Shard& shard = shard_of(key);
    std::unique_lock lock(shard.mutex);
    if (auto hit = fresh_locked(shard, key, now)) {
      lock.unlock();
      callback(hit->first);
      if (hit->second) start_fetch(std::string(key));
      return;
    }
    auto [flight, first] = shard.flights.try_emplace(std::string(key));
    flight->second.push_back(std::move(callback));
    lock.unlock();
    if (first) start_fetch(std::string(key));
  }

  // The fresh answer for `key` if there is one; never waits for the network (a hot entry
  // starts a background refresh through fetch, which must not block either).
  std::optional<Result> try_get(std::string_view key) {
    const auto now = clock_();
    Shard& shard = shard_of(key);
    std::unique_lock lock(shard.mutex);
    auto hit = fresh_locked(shard, key, now);
    lock.unlock();
    if (!hit) return std::nullopt;
    if (hit->second) start_fetch(std::string(key));
    return std::move(hit->first);
  }

  size_t size() const {
    size_t total = 0;
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mutex);
      total += shard->entries.size();
    }
    return total;
  }

 private:
  static constexpr size_t kMaxShards = 16;

  struct Entry {
    Result result;
    TimePoint expires, refresh_at, stale_until;
    std::list<std::string>::iterator lru;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries;
    std::list<std::string> lru;  // most recently used first
    std::unordered_map<std::string, std::vector<Callback>, Hash, std::equal_to<>> flights;
  };

  Shard& shard_of(std::string_view key) {
    return shards_.size() == 1 ? *shards_[0] : *shards_[Hash{}(key) % shards_.size()];
  }

  static uint32_t seconds_left(TimePoint now, TimePoint until) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(until - now).count();
    return static_cast<uint32_t>(std::max<long long>(left, 0));
  }

  // Under the shard lock: the fresh answer and whether to refresh it now (a refresh is
  // then registered as the key's flight, so only one starts). Drops an entry past its
  // stale window.
  std::optional<std::pair<Result, bool>> fresh_locked(Shard& shard, std::string_view key, TimePoint now) {
    auto it = shard.entries.find(key);
    if (it == shard.entries.end()) return std::nullopt;
    Entry& entry = it->second;
    if (now >= entry.expires) {
      if (now >= entry.stale_until) {
        shard.lru.erase(entry.lru);
        shard.entries.erase(it);
      }
      return std::nullopt;
    }
    shard.lru.splice(shard.lru.begin(), shard.lru, entry.lru);
    std::pair<Result, bool> hit{entry.result, false};
    hit.first.ttl = seconds_left(now, entry.expires);
    if (now >= entry.refresh_at && !shard.flights.contains(key)) {
      shard.flights.try_emplace(std::string(key));
      hit.second = true;
    }
    return hit;
  }

  void start_fetch(std::string key) {
    std::string copy = key;
    fetch_(key, [this, key = std::move(copy)](const Result& result) { complete(key, result); });
  }

  // A fetch came back: store or keep, and answer everyone who waited for it.
  void complete(const std::string& key, const Result& result) {
    const auto now = clock_();
    Shard& shard = shard_of(key);
    std::vector<Callback> waiting;
    Result answer = result;
    {
      std::lock_guard lock(shard.mutex);
      if (auto flight = shard.flights.find(key); flight != shard.flights.end()) {
        waiting.swap(flight->second);
        shard.flights.erase(flight);
      }
      if (cacheable(result.status)) {
        store_locked(shard, key, result, now);
      } else if (serve_stale_on(result.status)) {
        // Failures never evict: the last answer stays, and past its TTL is served stale.
        if (auto it = shard.entries.find(key); it != shard.entries.end() && now < it->second.stale_until) {
          answer = it->second.result;
          if (now < it->second.expires) {
            answer.ttl = seconds_left(now, it->second.expires);
          } else {
            answer.stale = true;
            answer.ttl = std::min(kStaleTtl, seconds_left(now, it->second.stale_until));
          }
        }
      }
    }
    for (auto& callback : waiting) callback(answer);
  }

  void store_locked(Shard& shard, const std::string& key, const Result& result, TimePoint now) {
    auto ttl = std::chrono::seconds(result.ttl);
    if (result.status == Status::kNotFound) ttl = std::min(ttl, options_.max_negative_ttl);
    ttl = std::min(ttl, options_.max_ttl);
    auto it = shard.entries.find(key);
    if (ttl <= std::chrono::seconds(0)) {  // not to be kept; an older answer is wrong now
      if (it != shard.entries.end()) {
        shard.lru.erase(it->second.lru);
        shard.entries.erase(it);
      }
      return;
    }
    if (it == shard.entries.end()) {
      while (shard.entries.size() >= per_shard_ && !shard.lru.empty()) {
        shard.entries.erase(shard.lru.back());
        shard.lru.pop_back();
      }
      shard.lru.push_front(key);
      it = shard.entries.try_emplace(key).first;
      it->second.lru = shard.lru.begin();
    } else {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
    }
    Entry& entry = it->second;
    entry.result = result;
    entry.result.stale = false;
    entry.expires = now + ttl;
    entry.refresh_at = now + std::chrono::milliseconds(ttl) * (100 - options_.refresh_percent) / 100;
    if (options_.refresh_after.count() > 0) entry.refresh_at = std::min(entry.refresh_at, now + options_.refresh_after);
    entry.stale_until = entry.expires + options_.stale_for;
  }

  CacheOptions options_;
  Fetch fetch_;
  CacheClock clock_;
  size_t per_shard_ = 1;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace epmdns::resolver
