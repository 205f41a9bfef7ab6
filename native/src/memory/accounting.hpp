// Memory accounting: every byte the engine allocates for a model is counted in one
// category, so the host can show where memory goes and prove that a run frees what
// it built.
//
// Invariants:
// - ledger().bytes(c) equals the sum of the live allocations made through
//   CountedAllocator<_, c>. After a run, subgraph and evaluation bytes are 0, graph
//   bytes are those of the parametric graphs the memory cache keeps beside its
//   traces, and graph + traces + cache bytes equal what the memory cache holds.
// - Workspace bytes are exactly the memory kept between uses (memory/kept.hpp: the
//   mappings RetainedRegion keeps, the freed counted blocks, the working storages kept
//   whole); release_free_heap() brings them to 0, and so does an allocation that would
//   otherwise exceed the budget.
// - An open Tally (below) counts exactly the allocations and frees of its category
//   its thread makes through the ledger while it is the innermost one open.
// - Where the bytes live does not change what is counted. A counted allocation comes,
//   while an ArenaScope lives on the allocating thread, from that scope's arena
//   (below); otherwise, at kKeptBlockFrom or more, from a mapping of its own (a kept
//   block of the same mapped length if there is one; from kLargeAllocationBytes on,
//   2 MB aligned and advised into transparent huge pages, allocate_large); otherwise
//   from operator new. counted_deallocate gives it back to where it came from, on any
//   thread: an arena knows its range, and the size alone says the rest. A freed
//   mapping is kept, as workspace, for the next counted allocation of its length.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace phasic {

// Workspace: large evaluation scratch kept mapped between calls (RetainedRegion) while
// no call holds it; a call that takes it counts it in its own category instead.
enum class Category : int { Graph = 0, Subgraphs, Traces, Cache, Evaluation, Workspace };
constexpr int kCategoryCount = 6;
const char* category_name(Category c);

// Thrown by an allocation that would take the accounted total above the budget.
struct BudgetExceeded : std::runtime_error {
  BudgetExceeded(std::size_t budget, std::size_t wanted);
  std::size_t budget, wanted;
};

class MemoryLedger {
 public:
  // Throws BudgetExceeded; before it does, unmaps the workspace RetainedRegion keeps
  // (which may make room).
  void add(Category c, std::size_t bytes);
  // Counts bytes that are already in memory and change owner (a kept region): never
  // refused by the budget, which limits what is allocated.
  void add_kept(Category c, std::size_t bytes) noexcept;
  void remove(Category c, std::size_t bytes) noexcept;
  // Bytes that stay allocated and change category (kept, then taken back): the total
  // and the peak do not move, no budget is checked, no tally counts them.
  void move(Category from, Category to, std::size_t bytes) noexcept;
  std::size_t bytes(Category c) const noexcept;
  std::size_t total() const noexcept;
  std::size_t peak() const noexcept;
  void reset_peak() noexcept;  // peak := current total
  // 0 disables the budget. Only allocations count against it, never frees.
  void set_budget(std::size_t bytes) noexcept;
  std::size_t budget() const noexcept;

 private:
  std::array<std::atomic<std::int64_t>, kCategoryCount> bytes_{};
  std::atomic<std::int64_t> total_{0};
  std::atomic<std::int64_t> peak_{0};
  std::atomic<std::int64_t> budget_{0};
};

// The process-wide ledger: one engine per process.
MemoryLedger& ledger();

// A budget in force for exactly one piece of work (a run, an export), however it ends.
struct BudgetScope {
  explicit BudgetScope(std::size_t bytes) noexcept { ledger().set_budget(bytes); }
  ~BudgetScope() { ledger().set_budget(0); }
  BudgetScope(const BudgetScope&) = delete;
  BudgetScope& operator=(const BudgetScope&) = delete;
};

// The bytes one owner's counted allocations hold, from the ledger's own figures: while
// a Scope of it is open (the innermost on its thread), every allocation and free of its
// category on that thread through the process ledger is added to it. An owner that
// allocates and frees only under its tally (a working storage, memory/kept.hpp) knows
// what it holds without listing its parts. Moves between categories are not counted.
class Tally {
 public:
  explicit Tally(Category c) noexcept : category_(c) {}
  Tally(const Tally&) = delete;
  Tally& operator=(const Tally&) = delete;
  std::size_t bytes() const noexcept { return static_cast<std::size_t>(bytes_); }

  class Scope {
   public:
    explicit Scope(Tally& t) noexcept;
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Tally* previous_;
  };

 private:
  friend class MemoryLedger;
  Category category_;
  std::int64_t bytes_ = 0;
};

// Resident set size of this process, from /proc/self/statm (0 where unavailable).
std::size_t resident_bytes();
// Returns freed heap pages to the system (malloc_trim on glibc) and gives back all kept
// memory (release_kept, memory/kept.hpp: Category::Workspace goes to 0).
void release_free_heap();

// Blocks this large are mapped in 2 MB pages where the kernel allows it (THP
// "madvise" mode): a growing graph array otherwise takes a page fault per 4 KB, and on
// a virtual machine those faults were a third of exploring rabbits N = 1000
// (docs/performance.md, issue 15, target 1). What a block can cost beyond its size
// is its last huge page's untouched part: under 2 MB, and only once it is touched.
constexpr std::size_t kLargeAllocationBytes = std::size_t(2) << 20;
// Counted blocks this large are mappings of their own, and a freed one is kept mapped
// (Category::Workspace) for the next allocation of the same mapped length, the most
// recently freed first, up to kMaxKeptBlocks and kMaxKeptBlockBytes (memory/kept.hpp;
// the oldest go first). glibc hands blocks of this size pages that it trims or unmaps when they are
// freed, so composing a model again faulted its trace's and scratch's pages in afresh
// every time (structured n = 6 d = 4: ≈ 100 faults a composition, SFS n = 30 ≈ 940,
// structured n = 8 d = 5 tens of MB of huge pages zeroed again: docs/performance.md,
// issue 15, target 4; decision 57). Below this size glibc's heap reuses freed memory
// itself.
constexpr std::size_t kKeptBlockFrom = std::size_t(64) << 10;
// A fresh mapping of `bytes` >= kLargeAllocationBytes, never a kept one; throws
// std::bad_alloc.
void* allocate_large(std::size_t bytes);
void free_large(void* p, std::size_t bytes) noexcept;

// Memory for many allocations that are made together and live together (a run entry
// decoded from disk: thousands of vectors, megabytes, freed when the memory cache lets
// the model go). The arena is one mapping in 2 MB pages where the kernel allows them
// (MADV_HUGEPAGE): a fresh process otherwise takes a page fault per 4 KB on first
// touch, which on a virtual machine cost more than decoding the bytes
// (docs/performance.md, issue 15 target 2; decision 40).
//
// Invariants: allocations on this thread while the scope lives are carved from its
// arena (bump order, 16-byte aligned) until it is full, then as without a scope; the
// most recent arena allocation freed on this thread during the scope gives its bytes
// back (temporaries). When the scope ends, the arena's unused tail is unmapped; the
// arena itself is unmapped when the scope has ended and its last allocation is freed.
// Scopes nest (the innermost one is used). An arena that cannot be mapped leaves
// everything to operator new.
class ArenaScope {
 public:
  explicit ArenaScope(std::size_t expected_bytes);
  ~ArenaScope();
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;
  struct Arena;

 private:
  Arena* arena_;
  Arena* previous_;
};

// Where every counted allocation comes from and goes back to (see ArenaScope).
void* counted_allocate(std::size_t bytes);
void counted_deallocate(void* p, std::size_t bytes) noexcept;

// Large scratch whose pages outlive the call that used them. glibc maps every request
// above 32 MiB afresh and unmaps it on free, so a call that needs that much pays a
// page fault per 4 KiB page each time (the gradient of structured n=8 d=5 spent ≈ 90 %
// of its time there: docs/performance.md, "Gradients"; a batch of 8 θ on the same
// model faulted in 172 MB per call). Released regions are kept mapped, up to
// kMaxKeptRegions of them and kMaxRetainedBytes together (the most recently released
// stay), and a request takes the smallest kept region that holds it, the way glibc
// keeps smaller blocks on its free lists. While held, a region is on the ledger in its
// caller's category; while kept, in Category::Workspace (decision 47), so the memory
// report shows it. release_free_heap() unmaps every kept region; so does an
// allocation that would exceed the budget, before it is refused. Contents are not
// initialized (a reused region holds what its last user left; fresh() says when the
// region is a new mapping, all zero). Requests below kRetainedFrom are plain heap
// allocations, which glibc already reuses.
class RetainedRegion {
 public:
  static constexpr std::size_t kRetainedFrom = std::size_t(1) << 20;
  static constexpr std::size_t kMaxRetainedBytes = std::size_t(1) << 30;
  static constexpr std::size_t kMaxKeptRegions = 4;
  RetainedRegion(std::size_t bytes, Category c);  // throws BudgetExceeded, std::bad_alloc
  ~RetainedRegion();
  RetainedRegion(const RetainedRegion&) = delete;
  RetainedRegion& operator=(const RetainedRegion&) = delete;
  void* data() const { return p_; }
  // A mapping made for this request: every byte is 0 until written.
  bool fresh() const { return fresh_; }

 private:
  std::size_t bytes_;   // what the ledger holds
  std::size_t mapped_;  // the mapping's length; 0 for a heap allocation
  Category category_;
  void* p_;
  bool fresh_ = false;
};

template <class T, Category C>
struct CountedAllocator {
  using value_type = T;
  CountedAllocator() noexcept = default;
  template <class U>
  CountedAllocator(const CountedAllocator<U, C>&) noexcept {}
  template <class U>
  struct rebind {
    using other = CountedAllocator<U, C>;
  };

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= 16, "arena allocations are 16-byte aligned");
    const std::size_t bytes = n * sizeof(T);
    ledger().add(C, bytes);
    try {
      return static_cast<T*>(counted_allocate(bytes));
    } catch (...) {
      ledger().remove(C, bytes);
      throw;
    }
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ledger().remove(C, n * sizeof(T));
    counted_deallocate(p, n * sizeof(T));
  }
  friend bool operator==(const CountedAllocator&, const CountedAllocator&) { return true; }
  friend bool operator!=(const CountedAllocator&, const CountedAllocator&) { return false; }
};

template <class T, Category C>
using CountedVector = std::vector<T, CountedAllocator<T, C>>;

// The same allocator for vectors of plain values every element of which is written
// before it is read: resize leaves the new elements uninitialized instead of zeroing
// them (value-initialization writes each once more, and for a large array that is a
// pass over memory for nothing). Only for arrays filled by index right after resize.
template <class T, Category C>
struct UninitializedAllocator : CountedAllocator<T, C> {
  UninitializedAllocator() noexcept = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U, C>&) noexcept {}
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U, C>;
  };
  template <class U>
  void construct(U* p) noexcept {
    static_assert(std::is_trivially_default_constructible_v<U>, "only plain values are left uninitialized");
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class T, Category C>
using UninitializedVector = std::vector<T, UninitializedAllocator<T, C>>;

// Bytes a vector holds (its capacity, which is what the allocator was asked for).
template <class V>
std::size_t held_bytes(const V& v) {
  return v.capacity() * sizeof(typename V::value_type);
}

}  // namespace phasic
