#include "memory/accounting.hpp"

#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <cstdio>
#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace phasic {

const char* category_name(Category c) {
  switch (c) {
    case Category::Graph: return "graph";
    case Category::Subgraphs: return "subgraphs";
    case Category::Traces: return "traces";
    case Category::Cache: return "cache";
    case Category::Evaluation: return "evaluation";
  }
  return "unknown";
}

namespace {
// Whole megabytes hide small budgets ("a budget of 0 MB would be exceeded (0 MB
// needed)"): below 10 MB one decimal is kept.
std::string megabytes(std::size_t bytes) {
  char text[32];
  const double mb = double(bytes) / double(1 << 20);
  std::snprintf(text, sizeof text, mb < 10 ? "%.1f MB" : "%.0f MB", mb);
  return text;
}
}  // namespace

BudgetExceeded::BudgetExceeded(std::size_t budget_, std::size_t wanted_)
    : std::runtime_error("the engine's memory budget of " + megabytes(budget_) + " would be exceeded (" +
                         megabytes(wanted_) + " needed)"),
      budget(budget_),
      wanted(wanted_) {}

void MemoryLedger::add(Category c, std::size_t bytes) {
  const auto b = static_cast<std::int64_t>(bytes);
  const std::int64_t total = total_.fetch_add(b, std::memory_order_relaxed) + b;
  const std::int64_t budget = budget_.load(std::memory_order_relaxed);
  if (budget > 0 && total > budget) {
    total_.fetch_sub(b, std::memory_order_relaxed);
    throw BudgetExceeded(static_cast<std::size_t>(budget), static_cast<std::size_t>(total));
  }
  bytes_[static_cast<int>(c)].fetch_add(b, std::memory_order_relaxed);
  std::int64_t peak = peak_.load(std::memory_order_relaxed);
  while (total > peak && !peak_.compare_exchange_weak(peak, total, std::memory_order_relaxed)) {
  }
}

void MemoryLedger::remove(Category c, std::size_t bytes) noexcept {
  const auto b = static_cast<std::int64_t>(bytes);
  bytes_[static_cast<int>(c)].fetch_sub(b, std::memory_order_relaxed);
  total_.fetch_sub(b, std::memory_order_relaxed);
}

std::size_t MemoryLedger::bytes(Category c) const noexcept {
  return static_cast<std::size_t>(bytes_[static_cast<int>(c)].load(std::memory_order_relaxed));
}
std::size_t MemoryLedger::total() const noexcept {
  return static_cast<std::size_t>(total_.load(std::memory_order_relaxed));
}
std::size_t MemoryLedger::peak() const noexcept {
  return static_cast<std::size_t>(peak_.load(std::memory_order_relaxed));
}
void MemoryLedger::reset_peak() noexcept { peak_.store(total_.load()); }
void MemoryLedger::set_budget(std::size_t bytes) noexcept { budget_.store(static_cast<std::int64_t>(bytes)); }
std::size_t MemoryLedger::budget() const noexcept { return static_cast<std::size_t>(budget_.load()); }

MemoryLedger& ledger() {
  static MemoryLedger instance;
  return instance;
}

std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int read = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (read != 2) return 0;
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

namespace {
// The one region kept between uses (null when none).
struct Retained {
  std::mutex mutex;
  void* p = nullptr;
  std::size_t mapped = 0;
};
Retained& retained() {
  static Retained instance;
  return instance;
}

void unmap(void* p, std::size_t mapped) noexcept {
#if defined(__linux__)
  if (p) munmap(p, mapped);
#else
  ::operator delete(p);
#endif
}

void* map(std::size_t mapped) {
#if defined(__linux__)
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Where transparent huge pages are on "madvise", this makes the first touch one
  // fault per 2 MiB instead of per 4 KiB; elsewhere it is harmless.
  madvise(p, mapped, MADV_HUGEPAGE);
  return p;
#else
  return ::operator new(mapped);
#endif
}

void drop_retained() noexcept {
  Retained& r = retained();
  void* p;
  std::size_t mapped;
  {
    std::lock_guard lock(r.mutex);
    p = r.p, mapped = r.mapped;
    r.p = nullptr, r.mapped = 0;
  }
  unmap(p, mapped);
}
}  // namespace

RetainedRegion::RetainedRegion(std::size_t bytes, Category c) : bytes_(bytes), mapped_(0), category_(c), p_(nullptr) {
  ledger().add(c, bytes);
  try {
    if (bytes < kRetainedFrom) {
      p_ = ::operator new(bytes);
      return;
    }
    constexpr std::size_t kHugePage = std::size_t(2) << 20;
    const std::size_t wanted = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    Retained& r = retained();
    void* too_small = nullptr;
    std::size_t too_small_length = 0;
    {
      std::lock_guard lock(r.mutex);
      if (r.p && r.mapped >= wanted) {
        p_ = r.p, mapped_ = r.mapped;
        r.p = nullptr, r.mapped = 0;
      } else if (r.p) {
        // Smaller than this request: the next use is likely as large again.
        too_small = r.p, too_small_length = r.mapped;
        r.p = nullptr, r.mapped = 0;
      }
    }
    unmap(too_small, too_small_length);
    if (!p_) p_ = map(wanted), mapped_ = wanted;
  } catch (...) {
    ledger().remove(c, bytes);
    throw;
  }
}

RetainedRegion::~RetainedRegion() {
  ledger().remove(category_, bytes_);
  if (mapped_ == 0) {
    ::operator delete(p_);
    return;
  }
  void* drop = p_;
  std::size_t drop_length = mapped_;
  if (mapped_ <= kMaxRetainedBytes) {
    Retained& r = retained();
    std::lock_guard lock(r.mutex);
    // Keep the larger of this region and the one already kept.
    if (!r.p || r.mapped < mapped_) {
      std::swap(r.p, drop);
      std::swap(r.mapped, drop_length);
    }
  }
  unmap(drop, drop_length);
}

void release_free_heap() {
  drop_retained();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace phasic
