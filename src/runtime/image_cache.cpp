#include "runtime/image_cache.h"

namespace edgevl {

void ImageCache::set_capacity(size_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  capacity_ = n == 0 ? 1 : n;
  while (lru_.size() > capacity_) lru_.pop_back();
}

bool ImageCache::contains(const std::string& key) const {
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& e : lru_)
    if (e.key == key) return true;
  return false;
}

size_t ImageCache::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return lru_.size();
}

ImageCache::Ptr ImageCache::get_or_compute(const std::string& key, const std::function<ImageEmbedding()>& compute, bool* hit) {
  std::promise<Ptr> promise;
  {
    std::unique_lock<std::mutex> lk(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->key == key) {
        lru_.splice(lru_.begin(), lru_, it);
        auto fut = lru_.front().value;
        lk.unlock();
        if (hit) *hit = true;
        return fut.get();  // waits if another thread is still encoding it; rethrows its error
      }
    }
    lru_.push_front({key, promise.get_future().share()});
    while (lru_.size() > capacity_) lru_.pop_back();
  }
  if (hit) *hit = false;
  try {
    Ptr p = std::make_shared<const ImageEmbedding>(compute());
    promise.set_value(p);
    return p;
  } catch (...) {
    promise.set_exception(std::current_exception());
    std::lock_guard<std::mutex> lk(mu_);  // a failed encode is not cached
    for (auto it = lru_.begin(); it != lru_.end(); ++it)
      if (it->key == key) {
        lru_.erase(it);
        break;
      }
    throw;
  }
}

}  // namespace edgevl
