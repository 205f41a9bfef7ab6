// File layout (little-endian), see also docs/engine.md:
//   0  magic "PHTRACE\0"           8 bytes
//   8  format version              u32
//  12  reserved (0)                u32
//  16  key h1, h2                  2 × u64
//  32  payload length              u64
//  40  canonical input length      u64
//  48  checksum h1, h2             2 × u64: MurmurHash3-128 of payload ‖ canonical
//  64  payload (serialized block trace), then the canonical block input
#include "cache/disk_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace phasic {
namespace fs = std::filesystem;
namespace {

void put64(unsigned char* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
void put32(unsigned char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
std::uint64_t get64(const unsigned char* p) { std::uint64_t v; std::memcpy(&v, p, 8); return v; }
std::uint32_t get32(const unsigned char* p) { std::uint32_t v; std::memcpy(&v, p, 4); return v; }

bool is_trace_file(const std::string& name) {
  if (name.size() != 32 + 6 || name.compare(32, 6, ".trace") != 0) return false;
  Key k;
  return Key::parse(std::string_view(name).substr(0, 32), k);
}
bool is_temp_file(const std::string& name) {
  return name.size() > 38 && name[0] == '.' && name.ends_with(".tmp") && is_trace_file(name.substr(1, 32) + ".trace");
}

Key checksum(std::string_view payload, std::string_view canonical) {
  Hasher h;
  h.update(payload.data(), payload.size());
  h.update(canonical.data(), canonical.size());
  return h.finish();
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

bool read_file(const std::string& path, std::string& out, bool& exists) {
  exists = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  exists = true;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return false;
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return true;
}

}  // namespace

DiskCache::DiskCache(std::string directory, std::uint64_t max_bytes)
    : directory_(std::move(directory)), max_bytes_(max_bytes) {}

std::string DiskCache::path_of(const Key& key) const { return directory_ + "/" + key.hex() + ".trace"; }

void DiskCache::begin_run() {
  write_failed_ = false;
  warning_.clear();
  rejected_ = 0;
}

bool DiskCache::load(const Key& key, std::string_view canonical, std::string& payload) {
  if (!enabled()) return false;
  const std::string path = path_of(key);
  std::string file;
  bool exists;
  if (!read_file(path, file, exists)) return false;

  const auto* h = reinterpret_cast<const unsigned char*>(file.data());
  const std::uint64_t payload_length = file.size() >= DiskCacheFormat::kHeaderBytes ? get64(h + 32) : 0;
  const std::uint64_t canonical_length = file.size() >= DiskCacheFormat::kHeaderBytes ? get64(h + 40) : 0;
  const bool sound =
      file.size() >= DiskCacheFormat::kHeaderBytes &&
      std::memcmp(h, DiskCacheFormat::kMagic, 8) == 0 && get32(h + 8) == DiskCacheFormat::kVersion &&
      get64(h + 16) == key.h1 && get64(h + 24) == key.h2 &&
      canonical_length == canonical.size() &&
      payload_length <= file.size() - DiskCacheFormat::kHeaderBytes &&
      file.size() - DiskCacheFormat::kHeaderBytes - payload_length == canonical_length;
  if (sound) {
    const std::string_view body(file.data() + DiskCacheFormat::kHeaderBytes, file.size() - DiskCacheFormat::kHeaderBytes);
    const std::string_view stored_payload = body.substr(0, payload_length);
    const std::string_view stored_canonical = body.substr(payload_length);
    const Key sum = checksum(stored_payload, stored_canonical);
    if (sum.h1 == get64(h + 48) && sum.h2 == get64(h + 56) && stored_canonical == canonical) {
      payload.assign(stored_payload);
      ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // a hit makes the file recent for pruning
      return true;
    }
  }
  remove(key);
  return false;
}

void DiskCache::remove(const Key& key) {
  std::error_code ec;
  if (fs::remove(path_of(key), ec)) ++rejected_;
}

void DiskCache::fail_write(const std::string& why) {
  write_failed_ = true;
  if (warning_.empty())
    warning_ = "the trace cache directory " + directory_ + " cannot be written (" + why +
               "); traces are kept in memory only";
}

bool DiskCache::store(const Key& key, std::string_view canonical, std::string_view payload) {
  if (!enabled() || write_failed_) return false;
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec) {
    fail_write(ec.message());
    return false;
  }
  unsigned char header[DiskCacheFormat::kHeaderBytes] = {};
  std::memcpy(header, DiskCacheFormat::kMagic, 8);
  put32(header + 8, DiskCacheFormat::kVersion);
  put64(header + 16, key.h1);
  put64(header + 24, key.h2);
  put64(header + 32, payload.size());
  put64(header + 40, canonical.size());
  const Key sum = checksum(payload, canonical);
  put64(header + 48, sum.h1);
  put64(header + 56, sum.h2);

  // A name no other writer uses: this process's id and a process-wide counter (a
  // leftover of a crashed process with a recycled id is skipped by O_EXCL).
  static std::atomic<std::uint64_t> temp_counter{0};
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    temp = directory_ + "/." + key.hex() + "." + std::to_string(::getpid()) + "." + std::to_string(++temp_counter) + ".tmp";
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    fail_write(std::strerror(errno));
    return false;
  }
  const bool written = write_all(fd, header, sizeof header) && write_all(fd, payload.data(), payload.size()) &&
                       write_all(fd, canonical.data(), canonical.size());
  const int write_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!written || !closed || ::rename(temp.c_str(), path_of(key).c_str()) != 0) {
    const int e = written && closed ? errno : write_errno;
    ::unlink(temp.c_str());
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

namespace {
struct TraceFile {
  fs::path path;
  std::uint64_t bytes;
  fs::file_time_type mtime;
};

std::vector<TraceFile> list_trace_files(const std::string& directory) {
  std::vector<TraceFile> files;
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_trace_file(name)) continue;
    std::error_code e1, e2;
    const auto size = it->file_size(e1);
    const auto mtime = it->last_write_time(e2);
    if (!e1 && !e2) files.push_back({it->path(), size, mtime});
  }
  return files;
}
}  // namespace

DiskUsage DiskCache::usage() const {
  DiskUsage u;
  if (directory_.empty()) return u;
  for (const auto& f : list_trace_files(directory_)) {
    ++u.files;
    u.bytes += f.bytes;
  }
  return u;
}

// Removes temporary files that writers killed mid-write left behind. Another
// process's file may still be in flight, so only ones untouched for ten minutes go.
static void remove_stale_temp_files(const std::string& directory) {
  std::error_code ec;
  std::vector<fs::path> temps;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec))
    if (is_temp_file(it->path().filename().string())) temps.push_back(it->path());
  const auto stale = fs::file_time_type::clock::now() - std::chrono::minutes(10);
  for (const auto& t : temps) {
    std::error_code e;
    if (fs::last_write_time(t, e) < stale && !e) fs::remove(t, e);
  }
}

void DiskCache::prune() {
  if (directory_.empty()) return;
  remove_stale_temp_files(directory_);
  auto files = list_trace_files(directory_);
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.bytes;
  if (total <= max_bytes_) return;
  std::sort(files.begin(), files.end(), [](const TraceFile& a, const TraceFile& b) { return a.mtime < b.mtime; });
  for (const auto& f : files) {
    if (total <= max_bytes_) break;
    std::error_code ec;
    if (fs::remove(f.path, ec)) total -= f.bytes;
  }
}

DiskUsage DiskCache::clear() {
  DiskUsage removed;
  if (directory_.empty()) return removed;
  remove_stale_temp_files(directory_);
  for (const auto& f : list_trace_files(directory_)) {
    std::error_code e;
    if (fs::remove(f.path, e)) {
      ++removed.files;
      removed.bytes += f.bytes;
    }
  }
  return removed;
}

}  // namespace phasic
