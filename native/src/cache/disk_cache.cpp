// File layout (little-endian), see also docs/engine.md:
//   0  magic "PHTRACE\0"           8 bytes
//   8  format version              u32 (2: the eight-lane checksum, the identity in the stored input)
//  12  reserved (0)                u32
//  16  key h1, h2                  2 × u64
//  32  payload length              u64
//  40  stored input length         u64: the engine identity's length + the canonical input's
//  48  checksum h1, h2             2 × u64: cache/checksum.hpp of everything after the header
//  64  payload (a serialized block trace or run entry), the engine identity, the canonical input
#include "cache/disk_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <new>
#include <vector>

#include "cache/checksum.hpp"
#include "cache/engine_identity.hpp"
#include "memory/accounting.hpp"

namespace phasic {
namespace {

void put64(unsigned char* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
void put32(unsigned char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
std::uint64_t get64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
std::uint32_t get32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

bool is_hex_key(std::string_view s) {
  Key k;
  return Key::parse(s, k);
}
bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

const char* suffix_of(EntryKind kind) { return kind == EntryKind::Run ? ".run" : ".trace"; }

// <32 hex>.trace or <32 hex>.run, exactly.
bool is_trace_name(std::string_view name) {
  return name.size() > 32 && (name.substr(32) == ".trace" || name.substr(32) == ".run") &&
         is_hex_key(name.substr(0, 32));
}
// .<32 hex>.<pid>.<counter>.tmp, exactly as store() names it; a user's
// ".<hex>.notes.tmp" is not ours.
bool is_temp_name(std::string_view name) {
  if (name.size() < 1 + 32 + 1 + 1 + 1 + 1 + 4 || name[0] != '.' || name[33] != '.' || !name.ends_with(".tmp") ||
      !is_hex_key(name.substr(1, 32)))
    return false;
  const std::string_view numbers = name.substr(34, name.size() - 34 - 4);
  const auto dot = numbers.find('.');
  return dot != std::string_view::npos && is_digits(numbers.substr(0, dot)) && is_digits(numbers.substr(dot + 1));
}

Key checksum(std::string_view payload, std::string_view identity, std::string_view canonical) {
  ContentChecksum c;
  c.update(payload.data(), payload.size());
  c.update(identity.data(), identity.size());
  c.update(canonical.data(), canonical.size());
  return c.finish();
}

bool write_all(int fd, const void* data, std::size_t size) {
  auto p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// What load() reads and checksums at a time: well within a core's L2 (512 KB here).
constexpr std::uint64_t kReadPiece = 256u << 10;

bool read_exact(int fd, void* data, std::size_t size, off_t offset) {
  auto p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, size, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::uint64_t mtime_ns(const struct stat& st) {
  return std::uint64_t(st.st_mtim.tv_sec) * 1'000'000'000ull + std::uint64_t(st.st_mtim.tv_nsec);
}

// One regular file of the cache's own naming in its directory. Symlinks, FIFOs,
// directories and anything not named by this cache are never listed, so never
// counted, read or removed.
struct OwnFile {
  std::string name;
  bool temporary;
  std::uint64_t bytes;
  std::uint64_t mtime_ns;
};

// The directory's own files, or the errno that kept it from being read (ENOENT: no
// directory, so no files).
int list_own_files(const std::string& directory, std::vector<OwnFile>& files) {
  const int dfd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errno;
  DIR* dir = ::fdopendir(dfd);
  if (!dir) {
    const int e = errno;
    ::close(dfd);
    return e;
  }
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    const bool trace = is_trace_name(name);
    if (!trace && !is_temp_name(name)) continue;
    struct stat st;
    if (::fstatat(dfd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    files.push_back({std::string(name), !trace, std::uint64_t(st.st_size), mtime_ns(st)});
  }
  ::closedir(dir);
  return 0;
}

// Removes `name` from `directory` only while it is a regular file (a symlink put in
// its place since the listing is left alone, and so is its target).
int remove_own_file(const std::string& directory, const std::string& name) {
  const std::string path = directory + "/" + name;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? 0 : errno;
  if (!S_ISREG(st.st_mode)) return 0;
  return ::unlink(path.c_str()) == 0 || errno == ENOENT ? 0 : errno;
}

std::uint64_t now_ns() {
  timespec t;
  ::clock_gettime(CLOCK_REALTIME, &t);
  return std::uint64_t(t.tv_sec) * 1'000'000'000ull + std::uint64_t(t.tv_nsec);
}

// A writer killed mid-write leaves its temporary file. Another process's file may
// still be in flight, so only ones untouched for ten minutes are stale.
constexpr std::uint64_t kStaleAfterNs = 600'000'000'000ull;
bool is_stale_temp(const OwnFile& f, std::uint64_t now) { return f.temporary && f.mtime_ns + kStaleAfterNs < now; }

// The prune stamp: what the last full prune left, so that a run that wrote nothing
// (an answer from a run entry) skips the scan of every file (≈ 800 system calls for
// a few hundred files, 1.4–3.5 ms on this VM) when nothing can have changed since.
// The directory's mtime moves on every create, rename and unlink in it; file sizes do
// not change in place (every write is a rename); so while the directory's mtime is
// the one the stamp saw, the files are the ones that prune left: within the budget it
// met, with no temporary file stale before the deadline it computed.
constexpr const char* kStampName = ".phasic-prune-stamp";
constexpr std::uint64_t kStampMagic = 0x31454e5552504850ULL;  // "PHPRUNE1"
struct PruneStamp {
  std::uint64_t magic = kStampMagic;
  std::uint64_t directory_mtime_ns = 0;
  std::uint64_t trace_bytes = 0;
  std::uint64_t next_stale_ns = 0;  // when the youngest temporary file left turns stale
};

std::uint64_t coarse_now_ns() {
  timespec t;
  ::clock_gettime(CLOCK_REALTIME_COARSE, &t);
  return std::uint64_t(t.tv_sec) * 1'000'000'000ull + std::uint64_t(t.tv_nsec);
}

// A later change of the directory is sure to move its mtime past `mtime_ns` only when
// the clock the kernel stamps with has already moved past it by the file system's
// granularity: a nanosecond file system (ext4, xfs, btrfs, tmpfs) stamps with the
// kernel's coarse clock; one whose stamps have no fraction of a second may round to
// two seconds (FAT).
bool later_changes_show(std::uint64_t mtime_ns) {
  const std::uint64_t granularity = mtime_ns % 1'000'000'000ull == 0 ? 2'000'000'000ull : 1;
  return coarse_now_ns() >= mtime_ns + granularity;
}

}  // namespace

DiskCache::DiskCache(std::string directory, std::uint64_t max_bytes, std::string identity)
    : directory_(std::move(directory)),
      max_bytes_(max_bytes),
      identity_(identity.empty() ? engine_identity() : std::move(identity)) {}

std::string DiskCache::path_of(const Key& key, EntryKind kind) const {
  return directory_ + "/" + key.hex() + suffix_of(kind);
}

void DiskCache::begin_run() {
  write_failed_ = false;
  warning_.clear();
  rejected_ = 0;
}

// Opens the file of `key` for reading and checks its header: the file must be regular
// (opened without blocking and without following a symlink: a FIFO in the entry's
// place would wait for a writer forever; anything else is a miss that store()
// replaces by renaming a fresh file over the name), its header must account for its
// size exactly for a stored input of this length, and it must fit the cache, before
// the body is read: a huge (or sparse) file is never read in. On success the header is
// in `h` and the body's size in `body_size`; otherwise -1, with `regular` saying whether
// a regular file failed (the caller removes it).
int DiskCache::open_checked(const Key& key, EntryKind kind, std::uint64_t stored_input_size, unsigned char* h,
                            std::uint64_t& body_size, bool& regular) const {
  regular = false;
  const std::string path = path_of(key, kind);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return -1;
  }
  regular = true;
  const auto size = std::uint64_t(st.st_size);
  body_size = size - DiskCacheFormat::kHeaderBytes;
  const bool sound = size >= DiskCacheFormat::kHeaderBytes && size <= max_bytes_ &&
                     read_exact(fd, h, DiskCacheFormat::kHeaderBytes, 0) &&
                     std::memcmp(h, DiskCacheFormat::kMagic, 8) == 0 && get32(h + 8) == DiskCacheFormat::kVersion &&
                     get64(h + 16) == key.h1 && get64(h + 24) == key.h2 && get64(h + 40) == stored_input_size &&
                     get64(h + 32) <= body_size && body_size - get64(h + 32) == stored_input_size;
  if (!sound) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A payload read from a file: where the next byte is, and the checksum of what was read.
struct PayloadReader::FileSource {
  int fd;
  off_t offset;  // of the next byte to read
  DiskCache& cache;
  ContentChecksum sum;
};

PayloadReader::PayloadReader(const std::uint8_t* data, std::uint64_t size) : data_(data), end_(size) {}

PayloadReader::PayloadReader(FileSource& file, std::uint64_t size) : file_(&file), data_(nullptr), left_(size) {}

bool PayloadReader::read_file(std::uint8_t* to, std::uint64_t n) {
  for (std::uint64_t at = 0; at < n; at += kReadPiece) {
    const std::uint64_t piece = std::min<std::uint64_t>(kReadPiece, n - at);
    if (!read_exact(file_->fd, to + at, piece, file_->offset)) return false;
    file_->sum.update(to + at, piece);
    file_->offset += off_t(piece);
    left_ -= piece;
  }
  return true;
}

// Makes the window hold at least n bytes not yet taken (n ≤ remaining()), reading a
// piece at a time so that the bytes are still in the core's cache when taken.
bool PayloadReader::fill(std::uint64_t n) {
  const std::uint64_t have = end_ - begin_;
  if (have >= n) return true;
  FileSource& f = *file_;
  std::uint8_t* window = f.cache.window_holding(n, data_ + begin_, have);
  if (!window) return false;
  data_ = window;
  begin_ = 0;
  end_ = have;
  const std::uint64_t want = std::min({std::max(n - have, kReadPiece), f.cache.window_bytes_ - have, left_});
  if (!read_file(window + have, want)) return false;
  end_ += want;
  return true;
}

const std::uint8_t* PayloadReader::take(std::uint64_t n) {
  if (n > remaining() || (file_ && !fill(n))) return nullptr;
  const std::uint8_t* p = data_ + begin_;
  begin_ += n;
  return p;
}

bool PayloadReader::copy(void* to, std::uint64_t n) {
  if (n > remaining()) return false;
  const std::uint64_t from_window = std::min(n, end_ - begin_);
  if (from_window > 0) std::memcpy(to, data_ + begin_, from_window);
  begin_ += from_window;
  // The rest straight from the file into its place: no pass through the window.
  return from_window == n || read_file(static_cast<std::uint8_t*>(to) + from_window, n - from_window);
}

bool DiskCache::load(const Key& key, std::string_view canonical, const std::function<void(PayloadReader&)>& decode,
                     EntryKind kind) {
  if (!enabled()) return false;
  unsigned char h[DiskCacheFormat::kHeaderBytes];
  std::uint64_t body_size = 0;
  bool regular = false;
  const std::uint64_t stored_input_size = identity_.size() + canonical.size();
  Fd file{open_checked(key, kind, stored_input_size, h, body_size, regular)};
  if (file.fd < 0) {
    if (regular) remove(key, kind);
    return false;
  }
  const std::uint64_t payload_length = get64(h + 32);
  // The stored input first: a file of another engine or input is never decoded.
  std::string stored_input(stored_input_size, '\0');
  if (read_exact(file.fd, stored_input.data(), stored_input_size,
                 off_t(DiskCacheFormat::kHeaderBytes + payload_length)) &&
      std::string_view(stored_input).substr(0, identity_.size()) == identity_ &&
      std::string_view(stored_input).substr(identity_.size()) == canonical) {
    PayloadReader::FileSource source{file.fd, off_t(DiskCacheFormat::kHeaderBytes), *this, {}};
    PayloadReader payload(source, payload_length);
    decode(payload);
    if (payload.remaining() == 0) {
      source.sum.update(stored_input.data(), stored_input.size());
      const Key sum = source.sum.finish();
      if (sum.h1 == get64(h + 48) && sum.h2 == get64(h + 56)) {
        ::futimens(file.fd, nullptr);  // a hit makes the file recent for pruning
        return true;
      }
    }
  }
  remove(key, kind);
  return false;
}

// The window is a RetainedRegion in whole 2 MB pages: on the ledger (Category::Cache)
// while a run reads through it, then kept mapped as workspace for the next run, so a
// fresh process pays one huge page's first-touch fault instead of one per 4 KB, and a
// later run none (docs/performance.md, issue 15 target 2). Nothing is zero-filled: a
// byte is handed out only after pread wrote it.
std::uint8_t* DiskCache::window_holding(std::uint64_t bytes, const std::uint8_t* pending, std::uint64_t pending_bytes) {
  if (window_bytes_ >= bytes) {
    auto* window = static_cast<std::uint8_t*>(window_->data());
    if (pending_bytes > 0 && pending != window) std::memmove(window, pending, pending_bytes);
    return window;
  }
  constexpr std::uint64_t kHuge = 2u << 20;
  const std::uint64_t size = std::max<std::uint64_t>(bytes + kHuge - 1, kHuge) / kHuge * kHuge;
  std::unique_ptr<RetainedRegion> larger;
  try {
    larger = std::make_unique<RetainedRegion>(size, Category::Cache);
  } catch (const std::bad_alloc&) {
    return nullptr;
  } catch (const BudgetExceeded&) {
    return nullptr;  // a miss: recording the block reports the budget
  }
  auto* window = static_cast<std::uint8_t*>(larger->data());
  if (pending_bytes > 0) std::memcpy(window, pending, pending_bytes);
  window_ = std::move(larger);
  window_bytes_ = size;
  return window;
}

void DiskCache::release_read_window() {
  window_.reset();
  window_bytes_ = 0;
}

DiskCache::~DiskCache() = default;

void DiskCache::remove(const Key& key, EntryKind kind) {
  struct stat st;
  const std::string path = path_of(key, kind);
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::unlink(path.c_str()) == 0) ++rejected_;
}

void DiskCache::fail_write(const std::string& why) {
  write_failed_ = true;
  if (warning_.empty())
    warning_ = "the trace cache directory " + directory_ + " cannot be written (" + why +
               "); traces are kept in memory only";
}

static bool make_directories(const std::string& directory, int& error) {
  // mkdir -p, by hand: std::filesystem's version reports a path through a regular
  // file as EEXIST ("File exists"), which says nothing of the cause.
  for (std::size_t slash = directory.find('/', 1);; slash = directory.find('/', slash + 1)) {
    const std::string prefix = directory.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      error = errno;
      return false;
    }
    if (slash == std::string::npos) break;
  }
  struct stat st;
  if (::stat(directory.c_str(), &st) != 0) {
    error = errno;
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    error = ENOTDIR;
    return false;
  }
  return true;
}

bool DiskCache::store(const Key& key, std::string_view canonical, std::string_view payload, EntryKind kind) {
  if (!enabled() || write_failed_) return false;
  int error = 0;
  if (!make_directories(directory_, error)) {
    fail_write(std::strerror(error));
    return false;
  }
  unsigned char header[DiskCacheFormat::kHeaderBytes] = {};
  std::memcpy(header, DiskCacheFormat::kMagic, 8);
  put32(header + 8, DiskCacheFormat::kVersion);
  put64(header + 16, key.h1);
  put64(header + 24, key.h2);
  put64(header + 32, payload.size());
  put64(header + 40, identity_.size() + canonical.size());
  const Key sum = checksum(payload, identity_, canonical);
  put64(header + 48, sum.h1);
  put64(header + 56, sum.h2);

  // A name no other writer uses: this process's id and a process-wide counter (a
  // leftover of a crashed process with a recycled id, or anything else in its place,
  // is skipped by O_EXCL, which also never follows a symlink).
  static std::atomic<std::uint64_t> temp_counter{0};
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    temp = directory_ + "/." + key.hex() + "." + std::to_string(::getpid()) + "." + std::to_string(++temp_counter) +
           ".tmp";
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    fail_write(std::strerror(errno));
    return false;
  }
  const bool written = write_all(fd, header, sizeof header) && write_all(fd, payload.data(), payload.size()) &&
                       write_all(fd, identity_.data(), identity_.size()) &&
                       write_all(fd, canonical.data(), canonical.size());
  const int write_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    ::unlink(temp.c_str());
    fail_write(std::strerror(write_errno));
    return false;
  }
  // The rename replaces whatever has the entry's name (a damaged file, a FIFO, a
  // symlink: the link, never its target) by the whole new file.
  if (::rename(temp.c_str(), path_of(key, kind).c_str()) != 0) {
    const int e = errno;
    ::unlink(temp.c_str());
    if (e == EISDIR || e == ENOTEMPTY || e == EEXIST) {
      // A directory holds the entry's name: this one block stays in memory only.
      if (warning_.empty())
        warning_ = "the trace cache entry " + path_of(key, kind) + " is a directory; it is kept in memory only";
      return false;
    }
    fail_write(std::strerror(e));
    return false;
  }
  unsynced_ = true;
  return true;
}

void DiskCache::flush() {
  if (!unsynced_) return;
  unsynced_ = false;
  const int fd = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::syncfs(fd);
  ::close(fd);
}

DiskUsage DiskCache::usage() const {
  DiskUsage u;
  if (directory_.empty()) return u;
  std::vector<OwnFile> files;
  list_own_files(directory_, files);
  for (const auto& f : files)
    if (!f.temporary) {
      ++u.files;
      u.bytes += f.bytes;
    }
  return u;
}

void DiskCache::prune() {
  if (directory_.empty()) return;
  // The directory's mtime before the listing: if it is the same once the stamp is
  // open, nothing was created, renamed or removed while this prune looked.
  struct stat before;
  if (::stat(directory_.c_str(), &before) != 0) return;
  const bool changes_show = later_changes_show(mtime_ns(before));
  std::vector<OwnFile> files;
  if (list_own_files(directory_, files) != 0) return;
  const std::uint64_t now = now_ns();
  std::uint64_t total = 0, next_stale = ~std::uint64_t(0);
  std::vector<OwnFile> traces;
  for (auto& f : files) {
    if (is_stale_temp(f, now))
      remove_own_file(directory_, f.name);
    else if (f.temporary)
      next_stale = std::min(next_stale, f.mtime_ns + kStaleAfterNs);
    if (!f.temporary) {
      total += f.bytes;
      traces.push_back(std::move(f));
    }
  }
  if (total > max_bytes_) {
    std::sort(traces.begin(), traces.end(), [](const OwnFile& a, const OwnFile& b) { return a.mtime_ns < b.mtime_ns; });
    for (const auto& f : traces) {
      if (total <= max_bytes_) break;
      if (remove_own_file(directory_, f.name) == 0) total -= f.bytes;
    }
  }
  write_prune_stamp(changes_show ? mtime_ns(before) : 0, total, next_stale);
}

// Opened before the directory's mtime is read again (creating the stamp moves it),
// written in place (a rename would move it too). The stamp vouches for the directory
// only when its mtime is still the one seen before the listing (this prune removed
// nothing and no one else changed anything) and a later change is sure to move it;
// otherwise it says so (mtime 0) and the next run that writes nothing scans in full.
void DiskCache::write_prune_stamp(std::uint64_t mtime_before_ns, std::uint64_t trace_bytes,
                                  std::uint64_t next_stale_ns) const {
  const std::string path = directory_ + "/" + kStampName;
  Fd stamp{::open(path.c_str(), O_WRONLY | O_CREAT | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0644)};
  struct stat st, dir;
  if (stamp.fd < 0 || ::fstat(stamp.fd, &st) != 0 || !S_ISREG(st.st_mode) || ::stat(directory_.c_str(), &dir) != 0)
    return;
  PruneStamp s;
  s.trace_bytes = trace_bytes;
  s.next_stale_ns = next_stale_ns;
  s.directory_mtime_ns = mtime_ns(dir) == mtime_before_ns ? mtime_before_ns : 0;
  [[maybe_unused]] const ssize_t written = ::pwrite(stamp.fd, &s, sizeof s, 0);
}

bool DiskCache::pruned_already() const {
  const std::string path = directory_ + "/" + kStampName;
  Fd stamp{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)};
  PruneStamp s;
  struct stat dir;
  return stamp.fd >= 0 && ::pread(stamp.fd, &s, sizeof s, 0) == ssize_t(sizeof s) && s.magic == kStampMagic &&
         s.directory_mtime_ns != 0 && ::stat(directory_.c_str(), &dir) == 0 && mtime_ns(dir) == s.directory_mtime_ns &&
         s.trace_bytes <= max_bytes_ && now_ns() < s.next_stale_ns;
}

void DiskCache::prune_if_changed() {
  if (directory_.empty() || pruned_already()) return;
  prune();
}

DiskClear DiskCache::clear() {
  DiskClear result;
  if (directory_.empty()) return result;
  std::vector<OwnFile> files;
  if (const int e = list_own_files(directory_, files); e != 0 && e != ENOENT) {
    result.error = "cannot read the cache directory " + directory_ + ": " + std::strerror(e);
    return result;
  }
  remove_own_file(directory_, kStampName);
  const std::uint64_t now = now_ns();
  for (const auto& f : files) {
    if (f.temporary && !is_stale_temp(f, now)) continue;
    if (const int e = remove_own_file(directory_, f.name); e != 0) {
      ++result.failed;
      if (result.error.empty()) result.error = "cannot remove " + directory_ + "/" + f.name + ": " + std::strerror(e);
    } else if (!f.temporary) {
      ++result.removed.files;
      result.removed.bytes += f.bytes;
    }
  }
  return result;
}

}  // namespace phasic
