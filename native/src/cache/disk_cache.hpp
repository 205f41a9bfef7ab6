// The on-disk trace cache: one file per block key (<key>.trace) and one per run of an
// unchanged model (<key>.run, engine/run_entry.hpp) in a directory that outlives the
// process, so a block recorded once is never recorded again on this machine and a
// model run once is never explored again.
//
// Invariants:
// - A file is trusted only if it is a regular file (opened without blocking and
//   without following a symlink), its header (magic, format version, key, lengths)
//   accounts for its size exactly, it fits in max_bytes, the checksum of its contents
//   matches, and its stored input equals this engine's identity followed by the
//   canonical input being looked up (cache/engine_identity.hpp: a file an engine of
//   another identity wrote is never served; like any file that fails a check it is a
//   miss, removed, and the run writes this engine's file under the name).
//   The body is read only after the header checks pass, so a huge file is never read
//   in. A regular file that fails a check is removed; anything else in an entry's
//   place (FIFO, symlink, device) is left alone. Either way it is a miss: the caller
//   records the block and store() renames a whole new file over the name.
// - Every entry is read in order, one way: its stored input is compared first (a file
//   of another engine or input is never decoded), then the payload streams through one
//   window the decoder takes from (a block trace takes its payload whole, a run entry's
//   large arrays are read straight into their destination), each piece of 256 KB
//   checksummed as it arrives: a hit costs one copy from the page cache and one pass
//   over the bytes. The load succeeds only if the decoder took the whole payload and
//   the checksum matches, so the caller uses what it decoded only then. The decoder
//   runs before the checksum is known: its own structural checks are what keep a torn
//   or crafted payload safe, as always. The window is on the ledger while a run reads
//   (Category::Cache) and kept as workspace after it.
// - Files are written to a temporary name in the same directory, then renamed over
//   the final name, so a reader (in this or another process) sees either no file or a
//   whole one, and nothing is ever written through a FIFO or a symlink. Durability is
//   batched: flush() syncs the directory's file system once per run instead of once
//   per file (an fsync costs ~2 ms, twenty times the recording of a typical block). A
//   file torn by a power loss before the flush is harmless: the checks below reject
//   it and the block is recorded again.
// - Pruning and clearing remove only regular files with exactly the cache's own names
//   (<32 hex digits>.trace or .run, and the writer's .<key>.<pid>.<n>.tmp; clearing
//   also the prune stamp); a symlink is never followed nor removed, and no other file
//   in the directory is touched.
// - prune_if_changed() skips the scan only while the prune stamp (.phasic-prune-stamp,
//   written in place by every full prune) names the directory's current mtime, a
//   budget no larger than max_bytes and a stale-temporary deadline still ahead: then
//   no file was created, renamed or removed since a prune that left the directory as
//   prune() would leave it now. Anything else (no stamp, a symlink or FIFO in its
//   place, another mtime) prunes in full.
// - A failure to write (unwritable directory, full disk) disables writing for the
//   rest of the run and leaves one warning; the run goes on in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cache/key.hpp"
#include "memory/accounting.hpp"

namespace phasic {

struct DiskCacheFormat {
  static constexpr char kMagic[8] = {'P', 'H', 'T', 'R', 'A', 'C', 'E', '\0'};
  static constexpr std::uint32_t kVersion = 2;
  static constexpr std::size_t kHeaderBytes = 64;
};

// What an entry holds: a block trace or a whole run. The kind names the file, so a
// block key and a run key never name the same file.
enum class EntryKind : std::uint8_t { Block, Run };

struct DiskUsage {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

// What clear() did: the trace files it removed, and how many of its own files it
// could not remove with the first error in words ("" when everything went).
struct DiskClear {
  DiskUsage removed;
  std::uint64_t failed = 0;
  std::string error;
};

// A payload taken in order: from memory, or from a file through the disk cache's read
// window. Everything it hands out stays within the payload.
class DiskCache;
class PayloadReader {
 public:
  // The whole payload in memory (tests, fuzzers, and anything already read).
  PayloadReader(const std::uint8_t* data, std::uint64_t size);

  // The next n bytes, contiguous, valid until the next call; null when fewer are left
  // or the file cannot be read.
  const std::uint8_t* take(std::uint64_t n);
  // Copies the next n bytes to `to`; false when fewer are left or the file cannot be read.
  bool copy(void* to, std::uint64_t n);
  std::uint64_t remaining() const { return left_ + (end_ - begin_); }

 private:
  friend class DiskCache;
  struct FileSource;
  PayloadReader(FileSource& file, std::uint64_t size);
  bool fill(std::uint64_t n);
  bool read_file(std::uint8_t* to, std::uint64_t n);

  FileSource* file_ = nullptr;
  const std::uint8_t* data_;  // the window: data_[begin_ .. end_) is read, not yet taken
  std::uint64_t begin_ = 0, end_ = 0;
  std::uint64_t left_ = 0;  // bytes of the file not yet in the window
};

class DiskCache {
 public:
  // An empty directory disables the disk cache; max_bytes 0 too. The identity is
  // engine_identity() unless given (tests give others).
  DiskCache(std::string directory = {}, std::uint64_t max_bytes = 0, std::string identity = {});
  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  bool enabled() const { return !directory_.empty() && max_bytes_ > 0; }
  const std::string& directory() const { return directory_; }
  const std::string& identity() const { return identity_; }
  // The file of `key`: <directory>/<key hex>.trace or .run.
  std::string path_of(const Key& key, EntryKind kind = EntryKind::Block) const;
  std::uint64_t max_bytes() const { return max_bytes_; }

  // Streams the payload stored under `key` for exactly this canonical input through
  // `decode` (see the invariants): true when decode took the whole payload and the
  // file's checksum matched; the caller uses what decode made only then. A regular file
  // that fails any check is removed (counted in rejected()); an exception from decode
  // propagates and leaves the file to the caller.
  bool load(const Key& key, std::string_view canonical, const std::function<void(PayloadReader&)>& decode,
            EntryKind kind = EntryKind::Block);
  // Writes atomically; false (and a warning) when the directory cannot take it.
  bool store(const Key& key, std::string_view canonical, std::string_view payload, EntryKind kind = EntryKind::Block);
  // Makes every file written since the last flush durable (one syncfs).
  void flush();
  // Removes the file of `key` (only a regular file), for a payload that passed the
  // checks but could not be decoded (written by an incompatible engine).
  void remove(const Key& key, EntryKind kind = EntryKind::Block);

  // Least recently used files (by mtime, refreshed on every hit) are removed until the
  // directory holds at most max_bytes of trace files.
  void prune();
  // prune(), unless the directory is as the last prune left it (see the invariants):
  // for runs that wrote nothing.
  void prune_if_changed();
  DiskUsage usage() const;
  // Removes every trace file and the temporary files stale for ten minutes. A
  // directory that does not exist holds nothing to clear.
  DiskClear clear();

  // Gives back the window load() reads through (a run calls it when it is done
  // reading; it is kept as workspace for the next).
  void release_read_window();

  // Called at the start of a run: writing is tried again, warnings start empty.
  void begin_run();
  // The warning of this run ("" for none), and how many bad files were removed.
  const std::string& warning() const { return warning_; }
  std::uint64_t rejected() const { return rejected_; }

 private:
  void fail_write(const std::string& why);
  void write_prune_stamp(std::uint64_t mtime_before_ns, std::uint64_t trace_bytes, std::uint64_t next_stale_ns) const;
  bool pruned_already() const;

  std::string directory_;
  std::uint64_t max_bytes_;
  std::string identity_;
  bool write_failed_ = false;
  bool unsynced_ = false;
  std::string warning_;
  std::uint64_t rejected_ = 0;
  int open_checked(const Key& key, EntryKind kind, std::uint64_t stored_input_size, unsigned char* header,
                   std::uint64_t& body_size, bool& regular) const;
  // The window of at least `bytes`, with the `pending` bytes a reader has not taken yet
  // moved to its start; null when it cannot be had (memory, budget).
  friend class PayloadReader;
  std::uint8_t* window_holding(std::uint64_t bytes, const std::uint8_t* pending, std::uint64_t pending_bytes);
  // The window payloads are read through, reused by every load until release_read_window().
  std::unique_ptr<RetainedRegion> window_;
  std::uint64_t window_bytes_ = 0;
};

}  // namespace phasic
