// Image embeddings by content key, least recently used evicted first. A key being
// computed by one thread is waited for by others instead of being encoded twice,
// which is what lets an image be encoded in the background while the user types.
#pragma once
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "core/cancel.h"
#include "runtime/model.h"

namespace edgevl {

class ImageCache {
 public:
  using Ptr = std::shared_ptr<const ImageEmbedding>;
  explicit ImageCache(size_t capacity = 8) : capacity_(capacity) {}

  // Returns the cached embedding for key, or runs compute() (once, even if several
  // threads ask) and caches its result. *hit tells whether it was already there.
  // While another thread computes the key, `cancel` is polled (throws kAborted).
  Ptr get_or_compute(const std::string& key, const std::function<ImageEmbedding()>& compute, bool* hit = nullptr,
                     const Cancel& cancel = Cancel());

  // Two-step form for background work: claim() registers the key at once (so later
  // lookups wait for it) and returns the promise to fulfil, or null if the key is
  // already there; fulfil() computes and publishes the value (or the error).
  using Claim = std::shared_ptr<std::promise<Ptr>>;
  Claim claim(const std::string& key);
  Ptr fulfil(const std::string& key, const Claim& c, const std::function<ImageEmbedding()>& compute);
  size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::shared_future<Ptr> value;
  };
  size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
};

}  // namespace edgevl
