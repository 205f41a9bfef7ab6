#include "memory/kept.hpp"

#include <sys/mman.h>

#include <array>
#include <iterator>
#include <mutex>
#include <utility>
#include <vector>

namespace phasic {
namespace {

// Mappings kept after their last use, oldest first: at most `max_count` of them and
// `max_bytes` together, the oldest given back first.
class KeptMappings {
 public:
  KeptMappings(std::size_t max_count, std::size_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}

  // Keeps a released mapping (it becomes workspace), then gives back the oldest beyond
  // the bounds.
  void keep(void* p, std::size_t mapped) noexcept {
    if (mapped > max_bytes_) {
      ::munmap(p, mapped);
      return;
    }
    std::vector<KeptMapping> dropped;
    {
      std::lock_guard lock(mutex_);
      try {
        kept_.reserve(max_count_ + 1);
        dropped.reserve(max_count_ + 1);
      } catch (...) {
        ::munmap(p, mapped);  // no room to keep it: it goes
        return;
      }
      kept_.push_back({p, mapped});
      bytes_ += mapped;
      ledger().add_kept(Category::Workspace, mapped);
      std::size_t oldest = 0;
      while (kept_.size() - oldest > max_count_ || bytes_ > max_bytes_) {
        bytes_ -= kept_[oldest].mapped;
        ledger().remove(Category::Workspace, kept_[oldest].mapped);
        dropped.push_back(kept_[oldest++]);
      }
      kept_.erase(kept_.begin(), kept_.begin() + std::ptrdiff_t(oldest));
    }
    for (const KeptMapping& k : dropped) ::munmap(k.p, k.mapped);
  }

  KeptMapping take_exact(std::size_t length) {
    std::lock_guard lock(mutex_);
    for (auto it = kept_.rbegin(); it != kept_.rend(); ++it)
      if (it->mapped == length) return take(std::next(it).base());
    return {nullptr, 0};
  }

  KeptMapping take_smallest(std::size_t length) {
    std::lock_guard lock(mutex_);
    auto best = kept_.end();
    for (auto it = kept_.begin(); it != kept_.end(); ++it)
      if (it->mapped >= length && (best == kept_.end() || it->mapped < best->mapped)) best = it;
    return best == kept_.end() ? KeptMapping{nullptr, 0} : take(best);
  }

  void drop_all() noexcept {
    std::vector<KeptMapping> dropped;
    {
      std::lock_guard lock(mutex_);
      dropped.swap(kept_);
      ledger().remove(Category::Workspace, bytes_);
      bytes_ = 0;
    }
    for (const KeptMapping& k : dropped) ::munmap(k.p, k.mapped);
  }

 private:
  KeptMapping take(std::vector<KeptMapping>::iterator it) {
    const KeptMapping k = *it;
    kept_.erase(it);
    bytes_ -= k.mapped;
    ledger().remove(Category::Workspace, k.mapped);
    return k;
  }

  const std::size_t max_count_, max_bytes_;
  std::mutex mutex_;
  std::vector<KeptMapping> kept_;  // plain heap memory: never counted, so never a budget check under the lock
  std::size_t bytes_ = 0;          // Σ mapped
};

KeptMappings& regions() {
  static KeptMappings instance(RetainedRegion::kMaxKeptRegions, RetainedRegion::kMaxRetainedBytes);
  return instance;
}

KeptMappings& blocks() {
  static KeptMappings instance(kMaxKeptBlocks, kMaxKeptBlockBytes);
  return instance;
}

struct KeptStorage {
  void* object = nullptr;
  DestroyStorage destroy = nullptr;
  Category category = Category::Workspace;
  std::size_t bytes = 0;
};
std::mutex storages_mutex;
std::array<KeptStorage, kMaxKeptStorages> storages;

}  // namespace

void keep_block(void* p, std::size_t mapped) noexcept { blocks().keep(p, mapped); }
KeptMapping take_block(std::size_t mapped) { return blocks().take_exact(mapped); }
void keep_region(void* p, std::size_t mapped) noexcept { regions().keep(p, mapped); }
KeptMapping take_region(std::size_t length) { return regions().take_smallest(length); }

bool keep_storage(void* object, DestroyStorage destroy, Category c, std::size_t bytes) noexcept {
  if (bytes > kMaxKeptStorageBytes) return false;
  const std::lock_guard lock(storages_mutex);
  for (KeptStorage& slot : storages)
    if (slot.object == nullptr) {
      ledger().move(c, Category::Workspace, bytes);
      slot = {object, destroy, c, bytes};
      return true;
    }
  return false;
}

void* take_storage(DestroyStorage destroy, Category c) noexcept {
  const std::lock_guard lock(storages_mutex);
  for (KeptStorage& slot : storages)
    if (slot.object != nullptr && slot.destroy == destroy && slot.category == c) {
      ledger().move(Category::Workspace, c, slot.bytes);
      return std::exchange(slot, KeptStorage{}).object;
    }
  return nullptr;
}

void release_kept() noexcept {
  std::array<KeptStorage, kMaxKeptStorages> taken;
  {
    const std::lock_guard lock(storages_mutex);
    taken.swap(storages);
  }
  for (const KeptStorage& k : taken) {
    if (k.object == nullptr) continue;
    // Freed in the category it was allocated in.
    ledger().move(Category::Workspace, k.category, k.bytes);
    k.destroy(k.object);
  }
  regions().drop_all();
  blocks().drop_all();
}

}  // namespace phasic
