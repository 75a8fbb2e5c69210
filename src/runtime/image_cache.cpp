#include "runtime/image_cache.h"

#include <chrono>

namespace edgevl {

size_t ImageCache::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return lru_.size();
}

ImageCache::Claim ImageCache::claim(const std::string& key) {
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& e : lru_)
    if (e.key == key) return nullptr;
  auto p = std::make_shared<std::promise<Ptr>>();
  lru_.push_front({key, p->get_future().share()});
  while (lru_.size() > capacity_) lru_.pop_back();
  return p;
}

ImageCache::Ptr ImageCache::fulfil(const std::string& key, const Claim& c, const std::function<ImageEmbedding()>& compute) {
  try {
    Ptr p = std::make_shared<const ImageEmbedding>(compute());
    c->set_value(p);
    return p;
  } catch (...) {
    c->set_exception(std::current_exception());
    std::lock_guard<std::mutex> lk(mu_);  // a failed encode is not cached
    for (auto it = lru_.begin(); it != lru_.end(); ++it)
      if (it->key == key) {
        lru_.erase(it);
        break;
      }
    throw;
  }
}

ImageCache::Ptr ImageCache::get_or_compute(const std::string& key, const std::function<ImageEmbedding()>& compute, bool* hit,
                                           const Cancel& cancel) {
  for (;;) {
    Claim c = claim(key);
    if (c) {
      if (hit) *hit = false;
      return fulfil(key, c, compute);
    }
    std::shared_future<Ptr> fut;
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (auto it = lru_.begin(); it != lru_.end(); ++it)
        if (it->key == key) {
          lru_.splice(lru_.begin(), lru_, it);
          fut = lru_.front().value;
          break;
        }
    }
    if (!fut.valid()) continue;  // evicted between the two looks: try again
    if (hit) *hit = true;
    // Another thread may still be encoding it: wait, but stay cancellable.
    while (fut.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready) cancel.check("waiting for an image encode");
    return fut.get();  // rethrows its error
  }
}

}  // namespace edgevl
