#include "memory/accounting.hpp"

#include "memory/kept.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <shared_mutex>
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
    case Category::Workspace: return "workspace";
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

namespace {
// The innermost open tally on this thread.
thread_local Tally* open_tally = nullptr;
}  // namespace

Tally::Scope::Scope(Tally& t) noexcept : previous_(open_tally) { open_tally = &t; }
Tally::Scope::~Scope() { open_tally = previous_; }

void MemoryLedger::add(Category c, std::size_t bytes) {
  const auto b = static_cast<std::int64_t>(bytes);
  std::int64_t total = total_.fetch_add(b, std::memory_order_relaxed) + b;
  const std::int64_t budget = budget_.load(std::memory_order_relaxed);
  if (budget > 0 && total > budget) {
    total_.fetch_sub(b, std::memory_order_relaxed);
    // Kept workspace is a convenience, never a reason to refuse: it goes first.
    const bool kept = this == &ledger() && this->bytes(Category::Workspace) > 0;
    if (kept) {
      release_kept();
      total = total_.fetch_add(b, std::memory_order_relaxed) + b;
      if (total > budget) total_.fetch_sub(b, std::memory_order_relaxed);
    }
    if (total > budget) throw BudgetExceeded(static_cast<std::size_t>(budget), static_cast<std::size_t>(total));
  }
  bytes_[static_cast<int>(c)].fetch_add(b, std::memory_order_relaxed);
  if (Tally* t = open_tally; t != nullptr && t->category_ == c && this == &ledger()) t->bytes_ += b;
  std::int64_t peak = peak_.load(std::memory_order_relaxed);
  while (total > peak && !peak_.compare_exchange_weak(peak, total, std::memory_order_relaxed)) {
  }
}

void MemoryLedger::add_kept(Category c, std::size_t bytes) noexcept {
  const auto b = static_cast<std::int64_t>(bytes);
  const std::int64_t total = total_.fetch_add(b, std::memory_order_relaxed) + b;
  bytes_[static_cast<int>(c)].fetch_add(b, std::memory_order_relaxed);
  std::int64_t peak = peak_.load(std::memory_order_relaxed);
  while (total > peak && !peak_.compare_exchange_weak(peak, total, std::memory_order_relaxed)) {
  }
}

void MemoryLedger::remove(Category c, std::size_t bytes) noexcept {
  const auto b = static_cast<std::int64_t>(bytes);
  bytes_[static_cast<int>(c)].fetch_sub(b, std::memory_order_relaxed);
  total_.fetch_sub(b, std::memory_order_relaxed);
  if (Tally* t = open_tally; t != nullptr && t->category_ == c && this == &ledger()) t->bytes_ -= b;
}

void MemoryLedger::move(Category from, Category to, std::size_t bytes) noexcept {
  const auto b = static_cast<std::int64_t>(bytes);
  bytes_[static_cast<int>(from)].fetch_sub(b, std::memory_order_relaxed);
  bytes_[static_cast<int>(to)].fetch_add(b, std::memory_order_relaxed);
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
  // Read without stdio: every run reports this, and fopen's buffer and fscanf's parsing
  // cost a reused run more than the read itself.
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];  // "size resident shared text lib data dt": 7 numbers of ≤ 16 digits
  const ssize_t got = ::read(fd, text, sizeof text);
  ::close(fd);
  if (got <= 0) return 0;
  const char* const end = text + got;
  const char* at = std::find(static_cast<const char*>(text), end, ' ');  // past size
  std::size_t resident = 0;
  if (at == end || std::from_chars(at + 1, end, resident).ec != std::errc{}) return 0;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

struct ArenaScope::Arena {
  char* begin;
  char* end;  // of the mapping (shrunk to the used part when the scope ends)
  char* top;  // next free byte; only the scope's thread moves it, while the scope lives
  // Live allocations, plus one for the scope while it lives: whoever brings it to 0
  // unmaps the arena. It never rises from 0 (only the scope's thread allocates, and
  // only while the scope's own reference is held).
  std::atomic<std::int64_t> references{1};
};

namespace {

constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kAlign = 16;

std::size_t huge_pages_for(std::size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

// `length` (a multiple of 2 MB) bytes starting on a 2 MB boundary, advised into huge
// pages (4 KB pages if the kernel refuses the advice); nullptr when nothing can be
// mapped. Only aligned 2 MB ranges can be huge pages, so it maps one huge page more
// and gives back the unaligned slack on either side.
char* map_huge_aligned(std::size_t length) {
  void* const p = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  char* const raw = static_cast<char*>(p);
  char* const begin = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + kHugePage - 1) &
                                              ~(kHugePage - 1));
  if (begin > raw) ::munmap(raw, std::size_t(begin - raw));
  if (begin + length < raw + length + kHugePage)
    ::munmap(begin + length, std::size_t(raw + length + kHugePage - begin - length));
  ::madvise(begin, length, MADV_HUGEPAGE);
  return begin;
}

thread_local ArenaScope::Arena* current_arena = nullptr;

// Every arena with live allocations or a live scope. A free looks its pointer up here
// only while there is one (the count): without arenas a free costs one atomic load;
// with some, frees on several threads look up together (shared lock) and only adding,
// shrinking or removing an arena takes the lock alone.
std::shared_mutex arenas_mutex;
std::vector<ArenaScope::Arena*> arenas;
std::atomic<std::size_t> arena_count{0};

// Drops one reference (not under arenas_mutex); the last one removes and unmaps the
// arena. Nobody can look a pointer up in it meanwhile: none of its allocations lives.
void drop_reference(ArenaScope::Arena* a) {
  if (a->references.fetch_sub(1, std::memory_order_acq_rel) > 1) return;
  {
    const std::unique_lock lock(arenas_mutex);
    arenas.erase(std::find(arenas.begin(), arenas.end(), a));
    arena_count.store(arenas.size(), std::memory_order_release);
  }
  if (a->end > a->begin) ::munmap(a->begin, std::size_t(a->end - a->begin));
  delete a;
}

constexpr std::size_t kSmallPage = 4096;

std::size_t block_length(std::size_t bytes) {
  return bytes >= kLargeAllocationBytes ? huge_pages_for(bytes) : (bytes + kSmallPage - 1) / kSmallPage * kSmallPage;
}

void* allocate_block(std::size_t bytes) {
  const std::size_t length = block_length(bytes);
  if (const KeptMapping kept = take_block(length); kept.p) return kept.p;
  if (bytes >= kLargeAllocationBytes) return allocate_large(bytes);
  void* const p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

// Keeps a freed block for the next of its length.
void free_block(void* p, std::size_t bytes) noexcept { keep_block(p, block_length(bytes)); }

}  // namespace

RetainedRegion::RetainedRegion(std::size_t bytes, Category c) : bytes_(bytes), mapped_(0), category_(c), p_(nullptr) {
  if (bytes < kRetainedFrom) {
    ledger().add(c, bytes);
    try {
      p_ = ::operator new(bytes);
    } catch (...) {
      ledger().remove(c, bytes);
      throw;
    }
    return;
  }
  const std::size_t wanted = huge_pages_for(bytes);
  // The smallest kept region that holds the request leaves the workspace.
  if (const KeptMapping kept = take_region(wanted); kept.p) p_ = kept.p, mapped_ = kept.mapped;
  try {
    ledger().add(c, bytes);
  } catch (...) {
    if (p_) ::munmap(p_, mapped_);  // refused under a budget: not kept either
    throw;
  }
  if (p_) return;
  p_ = map_huge_aligned(wanted);
  if (!p_) {
    ledger().remove(c, bytes);
    throw std::bad_alloc();
  }
  mapped_ = wanted;
  fresh_ = true;
}

RetainedRegion::~RetainedRegion() {
  ledger().remove(category_, bytes_);
  if (mapped_ == 0) {
    ::operator delete(p_);
    return;
  }
  keep_region(p_, mapped_);
}

ArenaScope::ArenaScope(std::size_t expected_bytes) : arena_(nullptr), previous_(current_arena) {
  const std::size_t size = huge_pages_for(expected_bytes);
  if (size == 0) return;
  char* const begin = map_huge_aligned(size);
  if (begin == nullptr) return;
  try {
    arena_ = new Arena{begin, begin + size, begin};
    const std::unique_lock lock(arenas_mutex);
    arenas.push_back(arena_);
    arena_count.store(arenas.size(), std::memory_order_release);
  } catch (...) {
    delete arena_;
    arena_ = nullptr;
    ::munmap(begin, size);
    return;
  }
  current_arena = arena_;
}

ArenaScope::~ArenaScope() {
  if (arena_ == nullptr) return;
  current_arena = previous_;
  {
    const std::unique_lock lock(arenas_mutex);
    // Nothing is carved from it any more: the pages never touched go back now.
    const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
    char* used_end = arena_->begin + (std::size_t(arena_->top - arena_->begin) + page - 1) / page * page;
    if (used_end < arena_->end) {
      ::munmap(used_end, std::size_t(arena_->end - used_end));
      arena_->end = used_end;
    }
  }
  drop_reference(arena_);
}

void* counted_allocate(std::size_t bytes) {
  ArenaScope::Arena* a = current_arena;
  if (a != nullptr && bytes > 0) {
    const std::size_t rounded = (bytes + kAlign - 1) & ~(kAlign - 1);
    if (rounded >= bytes && rounded <= std::size_t(a->end - a->top)) {
      void* p = a->top;
      a->top += rounded;
      a->references.fetch_add(1, std::memory_order_relaxed);
      return p;
    }
  }
  return bytes >= kKeptBlockFrom ? allocate_block(bytes) : ::operator new(bytes);
}

void counted_deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (arena_count.load(std::memory_order_acquire) > 0) {
    char* c = static_cast<char*>(p);
    ArenaScope::Arena* owner = nullptr;
    {
      const std::shared_lock lock(arenas_mutex);
      for (ArenaScope::Arena* a : arenas)
        if (c >= a->begin && c < a->end) owner = a;
    }
    if (owner != nullptr) {
      // The latest allocation, freed by the thread still carving: its bytes are reused.
      const std::size_t rounded = (bytes + kAlign - 1) & ~(kAlign - 1);
      if (owner == current_arena && c + rounded == owner->top) owner->top = c;
      drop_reference(owner);
      return;
    }
  }
  if (bytes >= kKeptBlockFrom)
    free_block(p, bytes);
  else
    ::operator delete(p);
}

void* allocate_large(std::size_t bytes) {
  char* const block = map_huge_aligned(huge_pages_for(bytes));
  if (block == nullptr) throw std::bad_alloc();
  return block;
}

void free_large(void* p, std::size_t bytes) noexcept { ::munmap(p, huge_pages_for(bytes)); }

void release_free_heap() {
  release_kept();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace phasic
