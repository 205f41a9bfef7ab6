#include "memory/accounting.hpp"

#include <unistd.h>
#include <cstdint>
#include <cstdio>
#if defined(__linux__)
#include <sys/mman.h>
#endif
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

void release_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace phasic

namespace phasic {

#if defined(__linux__)
namespace {
constexpr std::size_t kHugePage = std::size_t(2) << 20;
std::size_t mapped_length(std::size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
}  // namespace

// Maps one huge page more than needed and unmaps the slack on either side, so that
// the block starts on a 2 MB boundary: only aligned 2 MB ranges can be huge pages.
void* allocate_large(std::size_t bytes) {
  const std::size_t length = mapped_length(bytes);
  void* const p = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) ::munmap(p, aligned - start);
  if (const std::size_t tail = start + length + kHugePage - (aligned + length))
    ::munmap(reinterpret_cast<void*>(aligned + length), tail);
  void* const block = reinterpret_cast<void*>(aligned);
  ::madvise(block, length, MADV_HUGEPAGE);  // advice: 4 KB pages if refused
  return block;
}

void free_large(void* p, std::size_t bytes) noexcept { ::munmap(p, mapped_length(bytes)); }
#else
void* allocate_large(std::size_t bytes) { return ::operator new(bytes); }
void free_large(void* p, std::size_t) noexcept { ::operator delete(p); }
#endif

}  // namespace phasic
