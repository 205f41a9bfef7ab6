// Memory kept between uses: what the engine frees but will likely need again soon stays
// allocated, counted in Category::Workspace, until a later use takes it or memory is
// wanted back. One mechanism for three kinds of kept memory:
// - retained regions: RetainedRegion's mappings (accounting.hpp), at most
//   RetainedRegion::kMaxKeptRegions of them and kMaxRetainedBytes together; a request
//   takes the smallest that holds it;
// - counted blocks: freed counted allocations of kKeptBlockFrom bytes or more, at most
//   kMaxKeptBlocks of them and kMaxKeptBlockBytes together; a request takes one of
//   exactly its mapped length;
// - working storages: whole objects a piece of work reuses (a composition's recording
//   scratch, trace/block_trace.hpp: its tables and rows), at most kMaxKeptStorages of
//   them, each holding at most kMaxKeptStorageBytes (Reused, below).
//
// Invariants:
// - ledger().bytes(Category::Workspace) is exactly the bytes kept here. Each kind keeps
//   the most recently kept within its bounds (the oldest are given back first). A kept
//   thing leaves the workspace when it is taken (its bytes go to the taker's category
//   without a budget check: they are already allocated) or given back.
// - release_kept() gives back everything kept; release_free_heap() calls it, and so
//   does MemoryLedger::add before it refuses an allocation over the budget. So it runs
//   from inside counted allocations, on any thread: nothing here allocates counted
//   memory while it holds one of its locks, and a storage given back is freed under a
//   tally of its own (it leaves any tally open on that thread untouched).
// - A working storage's bytes are the ledger's own per-allocation figures: it is
//   allocated into and freed only while its Tally is open (accounting.hpp), so what it
//   holds is counted whatever vectors it is made of; none is listed by hand.
#pragma once

#include <cstddef>
#include <exception>
#include <optional>

#include "memory/accounting.hpp"

namespace phasic {

// Counted blocks kept (decision 57; the sizes they come from: kKeptBlockFrom).
constexpr std::size_t kMaxKeptBlocks = 256;
constexpr std::size_t kMaxKeptBlockBytes = std::size_t(256) << 20;
// Working storages kept (decisions 75, 84): one per composition running at once. The
// recording scratch trims what a block far larger than usual left, so what it keeps is
// bounded by its own trim (2.5 MB at most on the benchmark's models: SFS n = 40); the
// bound here is for a storage that does not trim. Made afresh, the 1.7 MB that SFS
// n = 30's composition keeps cost ≈ 60 page faults, 11 % of composing it.
constexpr std::size_t kMaxKeptStorages = 4;
constexpr std::size_t kMaxKeptStorageBytes = std::size_t(4) << 20;

struct KeptMapping {
  void* p;
  std::size_t mapped;  // the mapping's length; 0: none
};

// A freed counted block's mapping, kept for the next block of its length (or unmapped
// beyond the bounds).
void keep_block(void* p, std::size_t mapped) noexcept;
// The most recently kept block of exactly `mapped` bytes ({nullptr, 0}: none).
KeptMapping take_block(std::size_t mapped);
// A released RetainedRegion mapping, kept for the next request it holds.
void keep_region(void* p, std::size_t mapped) noexcept;
// The smallest kept region of at least `length` bytes ({nullptr, 0}: none).
KeptMapping take_region(std::size_t length);

// Gives back everything kept: storages first (freeing one may keep its blocks), then
// the blocks and regions. Category::Workspace is 0 after it.
void release_kept() noexcept;

// The type-erased store of working storages behind Reused: `destroy` frees an object
// and tells its type apart from others'.
using DestroyStorage = void (*)(void*) noexcept;
// Keeps `object` (bytes counted in `c` move to Category::Workspace); false when it is
// too large or every place is taken (the caller frees it).
bool keep_storage(void* object, DestroyStorage destroy, Category c, std::size_t bytes) noexcept;
// A kept object freed by `destroy`, its bytes moved back to `c` (nullptr: none kept).
void* take_storage(DestroyStorage destroy, Category c) noexcept;

// Working storage of type T (default-constructible) for one piece of work after another,
// its counted allocations all in category C: a kept one is taken if there is one, else
// one is made; when this ends normally and the storage holds at most
// kMaxKeptStorageBytes, it is kept for the next, else freed. Use it only while its
// tally is open (`Tally::Scope open(r.tally())`), so that its bytes are exact. Only the
// thread that made it uses it; not copyable.
template <class T, Category C>
class Reused {
 public:
  Reused() : held_(static_cast<Held*>(take_storage(&destroy, C))), exceptions_(std::uncaught_exceptions()) {
    if (held_ != nullptr) return;
    held_ = new Held;
    try {
      const Tally::Scope open(held_->tally);
      held_->object.emplace();
    } catch (...) {
      destroy(held_);
      throw;
    }
  }
  ~Reused() {
    // A storage left by a throw is not kept: it may hold what the throw interrupted.
    if (std::uncaught_exceptions() == exceptions_ && keep_storage(held_, &destroy, C, held_->tally.bytes())) return;
    destroy(held_);
  }
  Reused(const Reused&) = delete;
  Reused& operator=(const Reused&) = delete;

  T& operator*() const { return *held_->object; }
  Tally& tally() const { return held_->tally; }

 private:
  struct Held {
    Tally tally{C};
    std::optional<T> object;
  };
  static void destroy(void* p) noexcept {
    Held* held = static_cast<Held*>(p);
    {
      const Tally::Scope open(held->tally);
      held->object.reset();
    }
    delete held;
  }
  Held* held_;
  int exceptions_;
};

}  // namespace phasic
