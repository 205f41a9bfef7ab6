// The trace caches: keys, the on-disk format and its failure modes, the in-memory
// LRU and its accounting.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "base/error.hpp"
#include "cache/checksum.hpp"
#include "cache/disk_cache.hpp"
#include "cache/engine_identity.hpp"
#include "cache/key.hpp"
#include "cache/memory_cache.hpp"
#include "check.hpp"
#include "engine/engine.hpp"
#include "engine/run_entry.hpp"
#include "json/json.hpp"
#include "model_fixtures.hpp"
#include "trace/evaluate.hpp"

using namespace phasic;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/phasic-cache-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, ec);
    fs::remove_all(path, ec);
  }
};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The payload of an entry, taken whole (as a block trace is).
bool load_whole(DiskCache& cache, const Key& key, std::string_view canonical, std::string& out,
                EntryKind kind = EntryKind::Block) {
  return cache.load(
      key, canonical,
      [&](PayloadReader& in) {
        const std::uint64_t size = in.remaining();
        if (const std::uint8_t* p = in.take(size)) out.assign(reinterpret_cast<const char*>(p), size);
      },
      kind);
}

}  // namespace

TEST(murmur3_matches_the_reference_vectors) {
  CHECK(hash128("", 0) == (Key{0, 0}));
  const std::string fox = "The quick brown fox jumps over the lazy dog";
  const Key k = hash128(fox);
  CHECK_EQ(k.h1, 0xe34bbc7bbc071b6cULL);
  CHECK_EQ(k.h2, 0x7a433ca9c49a9347ULL);
}

TEST(streaming_hash_equals_one_shot_for_any_split) {
  std::string bytes;
  for (int i = 0; i < 100; ++i) bytes.push_back(static_cast<char>(i * 37));
  const Key whole = hash128(bytes);
  for (std::size_t a = 0; a <= bytes.size(); a += 7) {
    for (std::size_t b = a; b <= bytes.size(); b += 13) {
      Hasher h;
      h.update(bytes.data(), a);
      h.update(bytes.data() + a, b - a);
      h.update(bytes.data() + b, bytes.size() - b);
      CHECK(h.finish() == whole);
    }
  }
}

TEST(key_hex_round_trips) {
  const Key k{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  CHECK(k.hex() == "0123456789abcdeffedcba9876543210");
  Key back;
  CHECK(Key::parse(k.hex(), back));
  CHECK(back == k);
  CHECK(!Key::parse("0123", back));
  CHECK(!Key::parse("0123456789ABCDEFfedcba987654321g", back));
}

TEST(disk_cache_round_trips_and_checks_the_input) {
  TempDir dir;
  DiskCache cache(dir.path.string(), 1 << 20);
  const std::string canonical = "block input bytes";
  const Key key = hash128(canonical);
  CHECK(cache.store(key, canonical, "trace payload"));
  std::string payload;
  CHECK(load_whole(cache, key, canonical, payload));
  CHECK(payload == "trace payload");
  // A different input under the same key (a collision, or a forged file) is no hit,
  // and the file that claimed it is gone.
  CHECK(!load_whole(cache, key, "other input bytes", payload));
  CHECK_EQ(cache.rejected(), 1u);
  CHECK(!fs::exists(cache.path_of(key)));
}

TEST(disk_cache_rejects_truncated_corrupted_and_foreign_files) {
  TempDir dir;
  DiskCache cache(dir.path.string(), 1 << 20);
  const std::string canonical(300, 'c');
  const std::string payload(1000, 'p');
  const Key key = hash128(canonical);
  const fs::path file = cache.path_of(key);
  CHECK(cache.store(key, canonical, payload));
  const std::string good = read(file);
  CHECK_EQ(good.size(), DiskCacheFormat::kHeaderBytes + payload.size() + cache.identity().size() + canonical.size());

  std::string corrupted = good;
  corrupted[DiskCacheFormat::kHeaderBytes + 500] ^= 1;
  std::string bad_header = good;
  bad_header[33] ^= 1;  // payload length
  std::string bad_version = good;
  bad_version[8] = 99;
  for (const std::string& bytes : {good.substr(0, good.size() - 1), good.substr(0, 10), std::string(), corrupted,
                                   bad_header, bad_version, std::string("{\"not\": \"a trace\"}")}) {
    write(file, bytes);
    std::string out;
    CHECK(!load_whole(cache, key, canonical, out));
    CHECK(!fs::exists(file));
  }
  CHECK_EQ(cache.rejected(), 7u);
  // The cache recovers: the next store and load work.
  CHECK(cache.store(key, canonical, payload));
  std::string out;
  CHECK(load_whole(cache, key, canonical, out) && out == payload);
}

// An entry is read and checksummed in pieces (256 KB): one spanning several pieces,
// with a piece boundary inside the stored input, reads back whole, and a flipped bit
// in any piece (first, middle, last, the input) is caught.
TEST(disk_cache_checks_every_piece_of_an_entry_larger_than_one_read) {
  TempDir dir;
  DiskCache cache(dir.path.string(), 16 << 20);
  std::string payload(3 * (256 << 10) - 100, '\0');
  std::mt19937_64 rng(49);
  for (char& c : payload) c = char(rng());
  const std::string canonical(300, 'c');  // crosses the third piece's end
  const Key key = hash128(canonical);
  const fs::path file = cache.path_of(key);
  CHECK(cache.store(key, canonical, payload));
  const std::string good = read(file);
  std::string out;
  CHECK(load_whole(cache, key, canonical, out) && out == payload);
  const std::size_t body = DiskCacheFormat::kHeaderBytes;
  for (const std::size_t at : {body, body + (256u << 10) + 7, body + (512u << 10) - 1, body + (512u << 10),
                               good.size() - 200 - cache.identity().size() - 1, good.size() - 1}) {
    std::string flipped = good;
    flipped[at] ^= 0x10;
    write(file, flipped);
    CHECK(!load_whole(cache, key, canonical, out));
    CHECK(!fs::exists(file));
  }
  CHECK(cache.store(key, canonical, payload));
  CHECK(load_whole(cache, key, canonical, out) && out == payload);
}

// A run entry streams through the disk cache's window to its decoder (decision 56): a
// payload larger than the window reads back whole whichever way it is taken (small
// takes, takes larger than the window, copies straight into place), and the load is a
// hit only when the decoder took every byte and the checksum matched: a flipped bit
// the decoder cannot see, a stored input of another model (never decoded), a file cut
// short, or a decoder that stops early are misses, and the file is removed.
TEST(a_streamed_entry_is_read_whole_and_served_only_when_its_checksum_matches) {
  TempDir dir;
  DiskCache cache(dir.path.string(), 64 << 20);
  std::string payload(5 * (1 << 20) + 12345, '\0');
  std::mt19937_64 rng(56);
  for (char& c : payload) c = char(rng());
  const std::string canonical(300, 'c');
  const Key key = hash128(canonical);
  const fs::path file = cache.path_of(key, EntryKind::Run);
  CHECK(cache.store(key, canonical, payload, EntryKind::Run));
  const std::string good = read(file);

  // Takes of 1 byte to 2.5 MB, and copies, in turn.
  std::string got;
  int decoded = 0;
  auto take_all = [&](PayloadReader& in) {
    ++decoded;
    got.clear();
    const std::uint64_t sizes[] = {1, 7, 300000, 13, 2621440, 4096, 1 << 20};
    for (int i = 0; in.remaining() > 0; ++i) {
      const std::uint64_t n = std::min<std::uint64_t>(sizes[i % 7], in.remaining());
      if (i % 3 == 2) {
        std::string piece(n, '\0');
        CHECK(in.copy(piece.data(), n));
        got += piece;
      } else {
        const std::uint8_t* p = in.take(n);
        CHECK(p != nullptr);
        got.append(reinterpret_cast<const char*>(p), n);
      }
    }
    CHECK(in.take(1) == nullptr);
    char byte;
    CHECK(!in.copy(&byte, 1));
  };
  CHECK(cache.load(key, canonical, take_all, EntryKind::Run));
  CHECK(got == payload);

  const std::size_t body = DiskCacheFormat::kHeaderBytes;
  for (const std::size_t at : {body, body + (2u << 20) + 5, body + payload.size() - 1}) {
    std::string flipped = good;
    flipped[at] ^= 0x04;
    write(file, flipped);
    decoded = 0;
    CHECK(!cache.load(key, canonical, take_all, EntryKind::Run));
    CHECK_EQ(decoded, 1);  // decoded in full, then refused by the checksum
    CHECK(!fs::exists(file));
  }
  std::string other_input = good;
  other_input[good.size() - 1] ^= 0x04;
  for (const std::string& bad : {other_input, good.substr(0, good.size() - 1)}) {
    write(file, bad);
    decoded = 0;
    CHECK(!cache.load(key, canonical, take_all, EntryKind::Run));
    CHECK_EQ(decoded, 0);
    CHECK(!fs::exists(file));
  }
  write(file, good);
  CHECK(!cache.load(
      key, canonical, [](PayloadReader& in) { CHECK(in.take(100) != nullptr); }, EntryKind::Run));
  CHECK(!fs::exists(file));
  CHECK_EQ(cache.rejected(), 6u);

  // In memory, the same bounds.
  PayloadReader in(reinterpret_cast<const std::uint8_t*>(payload.data()), 10);
  CHECK(in.take(11) == nullptr);
  CHECK(in.take(4) != nullptr);
  char rest[6];
  CHECK(in.copy(rest, 6) && std::memcmp(rest, payload.data() + 4, 6) == 0);
  CHECK_EQ(in.remaining(), 0u);
}

// The window entries are read through is memory the engine holds: on the ledger as
// cache memory while loads read through it, kept as workspace once released, and taken
// again from there by the next load instead of mapped afresh.
TEST(the_read_window_is_on_the_ledger_while_loads_use_it_and_kept_as_workspace_after) {
  TempDir dir;
  DiskCache cache(dir.path.string(), 64 << 20);
  const std::string payload(3 << 20, 'p');  // a window of two 2 MB pages
  const std::string canonical = "an input";
  const Key key = hash128(canonical);
  CHECK(cache.store(key, canonical, payload));
  release_free_heap();
  const std::size_t held = ledger().bytes(Category::Cache);
  CHECK_EQ(ledger().bytes(Category::Workspace), 0u);
  std::string out;
  CHECK(load_whole(cache, key, canonical, out) && out == payload);
  CHECK_EQ(ledger().bytes(Category::Cache), held + (4u << 20));
  CHECK(load_whole(cache, key, canonical, out) && out == payload);  // the same window
  CHECK_EQ(ledger().bytes(Category::Cache), held + (4u << 20));
  cache.release_read_window();
  CHECK_EQ(ledger().bytes(Category::Cache), held);
  CHECK_EQ(ledger().bytes(Category::Workspace), 4u << 20);
  CHECK(load_whole(cache, key, canonical, out) && out == payload);
  CHECK_EQ(ledger().bytes(Category::Workspace), 0u);
  cache.release_read_window();
  release_free_heap();
  CHECK_EQ(ledger().bytes(Category::Workspace), 0u);
}

TEST(disk_cache_prunes_least_recently_used_files) {
  TempDir dir;
  // Each file: header + 100 payload bytes + identity + 100 input bytes; room for three.
  DiskCache cache(dir.path.string(), 3 * (DiskCacheFormat::kHeaderBytes + 200 + engine_identity().size()));
  std::vector<Key> keys;
  for (int i = 0; i < 5; ++i) {
    const std::string canonical = "input " + std::to_string(i) + std::string(93, 'x');
    keys.push_back(hash128(canonical));
    CHECK(cache.store(keys.back(), canonical, std::string(100, 'p')));
    // mtimes must differ for a defined order
    const fs::path f = cache.path_of(keys.back());
    fs::last_write_time(f, fs::file_time_type::clock::now() - std::chrono::seconds(100 - i));
  }
  std::string out;
  CHECK(load_whole(cache, keys[0], "input 0" + std::string(93, 'x'), out));  // refreshes key 0
  cache.prune();
  const DiskUsage u = cache.usage();
  CHECK_EQ(u.files, 3u);
  CHECK(fs::exists(cache.path_of(keys[0])));
  CHECK(!fs::exists(cache.path_of(keys[1])));
  CHECK(!fs::exists(cache.path_of(keys[2])));
  CHECK(fs::exists(cache.path_of(keys[4])));
}

TEST(disk_cache_clear_removes_only_its_own_files) {
  TempDir dir;
  DiskCache cache(dir.path.string(), 1 << 20);
  write(dir.path / "notes.txt", "a user's file");
  CHECK(cache.store(hash128("a", 1), "a", "1234"));
  CHECK(cache.store(hash128("b", 1), "b", "5678"));
  const DiskUsage before = cache.usage();
  CHECK_EQ(before.files, 2u);
  const DiskClear cleared = cache.clear();
  CHECK_EQ(cleared.removed.files, 2u);
  CHECK_EQ(cleared.removed.bytes, before.bytes);
  CHECK_EQ(cleared.failed, 0u);
  CHECK(cleared.error.empty());
  CHECK_EQ(cache.usage().files, 0u);
  CHECK(fs::exists(dir.path / "notes.txt"));
}

TEST(content_checksum_is_split_independent_and_sees_every_bit) {
  std::mt19937_64 random(7);
  std::string bytes(1000, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  const Key whole = content_checksum(bytes.data(), bytes.size());
  // Any split, including ones inside a 64-byte stripe and across several.
  for (std::size_t a : {0u, 1u, 7u, 63u, 64u, 65u, 300u, 999u, 1000u})
    for (std::size_t b : {0u, 5u, 64u, 129u}) {
      const std::size_t first = std::min(a, bytes.size()), second = std::min(b, bytes.size() - first);
      ContentChecksum c;
      c.update(bytes.data(), first);
      c.update(bytes.data() + first, second);
      c.update(bytes.data() + first + second, bytes.size() - first - second);
      CHECK(c.finish() == whole);
    }
  // Every single bit flipped, in whole stripes, whole tail words and the last bytes.
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      CHECK(content_checksum(flipped.data(), flipped.size()) != whole);
    }
  // Trailing zeros and a shorter prefix are other contents.
  for (std::size_t n : {999u, 993u, 960u, 0u}) CHECK(content_checksum(bytes.data(), n) != whole);
  const std::string longer = bytes + std::string(1, '\0');
  CHECK(content_checksum(longer.data(), longer.size()) != whole);
}

TEST(the_engine_identity_names_the_sources_it_was_built_from) {
  // The native tests are built with the generated source hash (scripts/native-tests.mjs).
  const std::string& identity = engine_identity();
  CHECK(identity.rfind("phasic engine; source ", 0) == 0);
  const std::string hash = identity.substr(std::strlen("phasic engine; source "), 32);
  CHECK(hash.size() == 32 && hash.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(&engine_identity() == &identity);  // one string for the process's life
  CHECK(identity.find('\n') == identity.size() - 1);
  CHECK(DiskCache("/nowhere", 1).identity() == identity);
}

// A file of another engine (another identity: other sources, another compiler) is
// never served: a miss like any file that fails a check, never an error; it is
// removed and this engine's file is written under the name.
TEST(an_entry_written_under_one_identity_is_not_served_under_another) {
  TempDir dir;
  DiskCache older(dir.path.string(), 1 << 20, "phasic engine; source 0123 (older)\n");
  DiskCache newer(dir.path.string(), 1 << 20, "phasic engine; source 4567 (newer)\n");
  DiskCache longer(dir.path.string(), 1 << 20, "phasic engine; source 4567 (newer); another compiler\n");
  const std::string canonical = "block input bytes";
  const Key key = hash128(canonical);
  for (const EntryKind kind : {EntryKind::Block, EntryKind::Run}) {
    // Same length of identity (only the bytes differ), then another length.
    for (DiskCache* reader : {&newer, &longer}) {
      CHECK(older.store(key, canonical, "older payload", kind));
      std::string out;
      CHECK(!load_whole(*reader, key, canonical, out, kind));
      CHECK(reader->warning().empty());
      CHECK(!fs::exists(reader->path_of(key, kind)));
      CHECK(reader->store(key, canonical, "newer payload", kind));
      CHECK(load_whole(*reader, key, canonical, out, kind) && out == "newer payload");
      CHECK(!load_whole(older, key, canonical, out, kind));
    }
  }
  CHECK_EQ(newer.usage().files, 0u);
}

// A run that wrote nothing skips the scan of the directory only while the prune stamp
// shows it as the last prune left it; any change, a lower budget or a temporary file
// turning stale makes it prune in full again.
TEST(a_prune_is_skipped_only_while_the_directory_is_as_the_last_prune_left_it) {
  TempDir dir;
  const std::uint64_t file_bytes = DiskCacheFormat::kHeaderBytes + 4 + engine_identity().size() + 1;
  DiskCache cache(dir.path.string(), 3 * file_bytes);
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(1);
  std::vector<Key> keys;
  for (int i = 0; i < 3; ++i) {
    const std::string canonical(1, char('a' + i));
    keys.push_back(hash128(canonical));
    CHECK(cache.store(keys.back(), canonical, "1234"));
    fs::last_write_time(cache.path_of(keys.back()), old + std::chrono::seconds(i));
  }
  // Let the directory's mtime fall behind the kernel's clock, so the stamp is trusted.
  ::usleep(30'000);
  cache.prune();
  CHECK(fs::is_regular_file(dir.path / ".phasic-prune-stamp"));
  CHECK_EQ(cache.usage().files, 3u);

  // A file that is not the cache's own name is not looked at either way; but a fourth
  // trace file put there by another writer (which prunes only after its own writes)
  // changes the directory's mtime: the next prune_if_changed scans and removes the
  // least recent.
  const fs::path intruder = cache.path_of(hash128("d", 1));
  fs::copy_file(cache.path_of(keys[0]), intruder);
  cache.prune_if_changed();
  CHECK_EQ(cache.usage().files, 3u);
  CHECK(!fs::exists(cache.path_of(keys[0])));

  // Unchanged since: the scan is skipped. Shown by what a scan would do: a file grown
  // in place (which moves no directory mtime; the cache itself never does it) puts the
  // directory over its budget, and only a full prune sees that.
  ::usleep(30'000);
  cache.prune();
  {
    std::ofstream grow(cache.path_of(keys[1]), std::ios::binary | std::ios::app);
    grow << "grown in place";
  }
  cache.prune_if_changed();
  CHECK_EQ(cache.usage().files, 3u);
  {
    DiskCache scan(dir.path.string(), 3 * file_bytes);
    scan.prune();
  }
  CHECK_EQ(cache.usage().files, 2u);
  CHECK(!fs::exists(cache.path_of(keys[2])));  // the least recent, since keys[1] was just written
  CHECK(cache.store(keys[1], "b", "1234"));    // back to its size
  CHECK(cache.store(keys[2], "c", "1234"));
  CHECK_EQ(cache.usage().files, 3u);
  // A lower budget than the stamp's bytes: pruned in full.
  DiskCache smaller(dir.path.string(), 2 * file_bytes);
  smaller.prune_if_changed();
  CHECK_EQ(smaller.usage().files, 2u);

  // A writer's temporary file, young when the stamp was written, turns stale: the
  // stamp's deadline forces a scan. (Its mtime is set old after the prune saw it young:
  // the deadline is what the prune computed, so this checks the deadline is kept.)
  ::usleep(30'000);
  const fs::path temp = dir.path / ("." + hash128("e", 1).hex() + ".4242.1.tmp");
  write(temp, "half a file");
  ::usleep(30'000);
  smaller.prune();  // sees it young, stamps its deadline ten minutes ahead
  CHECK(fs::exists(temp));
  smaller.prune_if_changed();
  CHECK(fs::exists(temp));  // skipped: nothing changed, the deadline is ahead
  // A stamp for a file system whose stamp deadline has passed: rewrite its deadline.
  {
    std::string stamp = read(dir.path / ".phasic-prune-stamp");
    CHECK_EQ(stamp.size(), 32u);
    const std::uint64_t past = 1;
    std::memcpy(stamp.data() + 24, &past, 8);
    std::fstream f(dir.path / ".phasic-prune-stamp", std::ios::binary | std::ios::in | std::ios::out);
    f.write(stamp.data(), std::streamsize(stamp.size()));
  }
  fs::last_write_time(temp, old);
  smaller.prune_if_changed();
  CHECK(!fs::exists(temp));

  // A symlink in the stamp's place is never followed, written through or trusted.
  TempDir outside;
  const fs::path target = outside.path / "notes.txt";
  write(target, "a user's notes");
  fs::remove(dir.path / ".phasic-prune-stamp");
  fs::create_symlink(target, dir.path / ".phasic-prune-stamp");
  smaller.prune();
  smaller.prune_if_changed();
  CHECK(read(target) == "a user's notes");
  CHECK(fs::is_symlink(dir.path / ".phasic-prune-stamp"));
  // And clear() removes the stamp (a regular one) with the cache's files.
  fs::remove(dir.path / ".phasic-prune-stamp");
  smaller.prune();
  CHECK(fs::is_regular_file(dir.path / ".phasic-prune-stamp"));
  smaller.clear();
  CHECK(!fs::exists(dir.path / ".phasic-prune-stamp"));
}

namespace {

// Fails the test program (SIGALRM) instead of hanging it when a regression makes a
// cache call block, e.g. opening a FIFO for reading.
struct HangGuard {
  explicit HangGuard(unsigned seconds) { ::alarm(seconds); }
  ~HangGuard() { ::alarm(0); }
};

std::uint64_t peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

// A header that is sound for `key` and `canonical` in `cache` and claims `payload_bytes`.
std::string header_for(const DiskCache& cache, const Key& block_key, std::size_t canonical_bytes,
                       std::uint64_t payload_bytes) {
  std::string h(DiskCacheFormat::kHeaderBytes, '\0');
  std::memcpy(h.data(), DiskCacheFormat::kMagic, 8);
  const std::uint32_t version = DiskCacheFormat::kVersion;
  const std::uint64_t canonical_length = cache.identity().size() + canonical_bytes;
  const Key key = block_key;
  std::memcpy(h.data() + 8, &version, 4);
  std::memcpy(h.data() + 16, &key.h1, 8);
  std::memcpy(h.data() + 24, &key.h2, 8);
  std::memcpy(h.data() + 32, &payload_bytes, 8);
  std::memcpy(h.data() + 40, &canonical_length, 8);
  return h;
}

}  // namespace

TEST(an_entry_that_is_not_a_regular_file_is_a_miss_and_replaced_by_a_whole_file) {
  HangGuard guard(20);
  TempDir dir;
  DiskCache cache(dir.path.string(), 1 << 20);
  const std::string canonical = "block input";
  const Key key = hash128(canonical);
  const fs::path entry = cache.path_of(key);
  // A FIFO: opening it for reading would wait for a writer forever.
  CHECK_EQ(::mkfifo(entry.c_str(), 0644), 0);
  std::string out;
  CHECK(!load_whole(cache, key, canonical, out));
  CHECK(fs::is_fifo(fs::symlink_status(entry)));  // not removed by the reader
  CHECK(cache.store(key, canonical, "payload"));
  CHECK(fs::is_regular_file(fs::symlink_status(entry)));
  CHECK(load_whole(cache, key, canonical, out) && out == "payload");
  CHECK(cache.warning().empty());

  // A directory in the entry's place: a miss, the block stays in memory, and writing
  // goes on for the other blocks.
  const std::string other = "other block";
  const fs::path other_entry = cache.path_of(hash128(other));
  fs::create_directory(other_entry);
  CHECK(!load_whole(cache, hash128(other), other, out));
  CHECK(!cache.store(hash128(other), other, "p"));
  CHECK(fs::is_directory(other_entry));
  CHECK(cache.warning().find("is a directory") != std::string::npos);
  CHECK(cache.store(hash128("third"), "third", "p"));
  CHECK(cache.usage().files == 2u);
  std::size_t temporaries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) temporaries += e.path().extension() == ".tmp";
  CHECK_EQ(temporaries, 0u);
}

TEST(a_huge_sparse_entry_is_never_read_in) {
  TempDir dir;
  DiskCache cache(dir.path.string(), 512ull << 20);
  const std::string canonical = "block input";
  const Key key = hash128(canonical);
  const fs::path entry = cache.path_of(key);
  const std::uint64_t huge = 64ull << 30;
  const std::uint64_t before = peak_rss_kib();
  // All zeros (no header), then a sound header that claims the whole 64 GiB, then
  // one that claims a size within the cache's room but lies about the file's size.
  for (const std::string& head : {std::string(), header_for(cache, key, canonical.size(), huge - 64 - canonical.size()),
                                  header_for(cache, key, canonical.size(), 1000)}) {
    {
      std::ofstream f(entry, std::ios::binary | std::ios::trunc);
      f << head;
    }
    CHECK_EQ(::truncate(entry.c_str(), off_t(huge)), 0);
    std::string out;
    CHECK(!load_whole(cache, key, canonical, out));
    CHECK(!fs::exists(entry));  // a regular file that fails the checks is removed
  }
  CHECK(peak_rss_kib() - before < 64 * 1024);
  CHECK(cache.store(key, canonical, "payload"));
  std::string out;
  CHECK(load_whole(cache, key, canonical, out) && out == "payload");
}

TEST(symlinks_named_like_entries_are_never_followed_nor_removed) {
  TempDir dir, outside;
  DiskCache cache(dir.path.string(), 1 << 20);
  // The target is a sound cache file for its key, so following the link would hit.
  const std::string canonical = "block input";
  const Key key = hash128(canonical);
  {
    DiskCache elsewhere(outside.path.string(), 1 << 20);
    CHECK(elsewhere.store(key, canonical, "payload"));
  }
  const fs::path target = outside.path / fs::path(cache.path_of(key)).filename();
  const std::string target_bytes = read(target);
  const auto target_mtime = fs::last_write_time(target);
  const fs::path entry = cache.path_of(key);
  fs::create_symlink(target, entry);
  // A second link, to a user's file, whose entry the run never writes.
  const std::string canonical2 = "second block";
  const fs::path notes = outside.path / "notes.txt";
  write(notes, "a user's notes");
  const fs::path entry2 = cache.path_of(hash128(canonical2));
  fs::create_symlink(notes, entry2);

  std::string out;
  CHECK(!load_whole(cache, key, canonical, out));
  CHECK(!load_whole(cache, hash128(canonical2), canonical2, out));
  CHECK(fs::is_symlink(entry) && fs::is_symlink(entry2));
  CHECK_EQ(cache.usage().files, 0u);  // a link is not a cache file
  // Pruning to nothing and clearing leave both links and their targets alone.
  DiskCache tiny(dir.path.string(), 1);
  tiny.prune();
  const DiskClear cleared = cache.clear();
  CHECK_EQ(cleared.removed.files, 0u);
  CHECK(cleared.error.empty());
  CHECK(fs::is_symlink(entry) && fs::is_symlink(entry2));
  // The store replaces the link itself, never writing through it.
  CHECK(cache.store(key, canonical, "new payload"));
  CHECK(fs::is_regular_file(fs::symlink_status(entry)));
  CHECK(load_whole(cache, key, canonical, out) && out == "new payload");
  CHECK(read(target) == target_bytes);
  CHECK(fs::last_write_time(target) == target_mtime);
  CHECK(read(notes) == "a user's notes");
}

TEST(pruning_and_clearing_remove_only_the_names_the_cache_writes) {
  TempDir dir;
  DiskCache cache(dir.path.string(), 1 << 20);
  const std::string hex = hash128("x", 1).hex();
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(1);
  // Names close to the cache's own, all old enough to be stale if they were ours.
  const std::vector<std::string> foreign = {
      "." + hex + ".notes.tmp",     "." + hex + ".1.tmp.bak", "." + hex + ".12.tmp",
      "." + hex + "..1.tmp",        "." + hex + ".1.2.3.tmp", hex + ".trace.bak",
      hex.substr(0, 31) + ".trace", "." + hex + ".trace",     "notes.txt"};
  for (const auto& name : foreign) {
    write(dir.path / name, "a user's file");
    fs::last_write_time(dir.path / name, old);
  }
  // A stale temporary file of a killed writer, a young one of a live writer, and a
  // stale-looking temporary name that is a directory.
  const fs::path stale = dir.path / ("." + hex + ".4242.7.tmp");
  const fs::path young = dir.path / ("." + hex + ".4242.8.tmp");
  const fs::path dir_named_temp = dir.path / ("." + hex + ".4242.9.tmp");
  write(stale, "half a file");
  fs::last_write_time(stale, old);
  write(young, "half a file");
  fs::create_directory(dir_named_temp);
  fs::last_write_time(dir_named_temp, old);

  DiskCache tiny(dir.path.string(), 1);
  CHECK(tiny.store(hash128("a", 1), "a", "1234"));
  tiny.prune();
  CHECK_EQ(tiny.usage().files, 0u);
  CHECK(!fs::exists(stale));
  CHECK(fs::exists(young));
  CHECK(fs::is_directory(dir_named_temp));
  for (const auto& name : foreign) CHECK(read(dir.path / name) == "a user's file");

  write(stale, "half a file");
  fs::last_write_time(stale, old);
  CHECK(cache.store(hash128("b", 1), "b", "5678"));
  const DiskClear cleared = cache.clear();
  CHECK_EQ(cleared.removed.files, 1u);
  CHECK(!fs::exists(stale));
  CHECK(fs::exists(young));
  for (const auto& name : foreign) CHECK(read(dir.path / name) == "a user's file");
}

TEST(clear_reports_a_directory_it_cannot_read) {
  TempDir dir;
  // No directory: nothing to clear, and nothing wrong.
  const DiskClear missing = DiskCache((dir.path / "none").string(), 1 << 20).clear();
  CHECK_EQ(missing.removed.files, 0u);
  CHECK(missing.error.empty());
  // A regular file where the directory should be, or on its path.
  write(dir.path / "file", "not a directory");
  for (const fs::path& p : {dir.path / "file", dir.path / "file" / "sub"}) {
    const DiskClear r = DiskCache(p.string(), 1 << 20).clear();
    CHECK(r.error == "cannot read the cache directory " + p.string() + ": Not a directory");
  }
  // The writer says the same, not "File exists".
  DiskCache through_file((dir.path / "file").string(), 1 << 20);
  CHECK(!through_file.store(hash128("a", 1), "a", "1"));
  CHECK(through_file.warning().find("(Not a directory)") != std::string::npos);
}

TEST(unwritable_directory_gives_one_warning_and_no_failure) {
  TempDir dir;
  fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
  DiskCache cache((dir.path / "sub").string(), 1 << 20);
  cache.begin_run();
  const bool root = ::geteuid() == 0;  // root writes anywhere: the check is then moot
  const bool first = cache.store(hash128("a", 1), "a", "1");
  const bool second = cache.store(hash128("b", 1), "b", "2");
  if (!root) {
    CHECK(!first && !second);
    CHECK(cache.warning().find("cannot be written") != std::string::npos);
  }
  DiskCache missing("/proc/definitely/not/here", 1 << 20);
  CHECK(!missing.store(hash128("a", 1), "a", "1"));
  CHECK(!missing.warning().empty());
  std::string out;
  CHECK(!load_whole(missing, hash128("a", 1), "a", out));
}

namespace {

// A trace whose vectors hold `size` elements each: the cache only sees its bytes.
BlockTrace trace_of_size(std::size_t size, std::uint32_t tag) {
  BlockTrace t;
  t.vertex_count = tag;
  t.dot_coeffs.assign(size, 1.0);
  t.ops = OpList(TraceVector<Op>(size, Op{OpCode::MulAdd, 0, 0, 0}), 0);
  t.set_commands({}, TraceVector<SolveCommand>(size), {});
  return t;
}

std::vector<std::uint8_t> input_bytes(const std::string& s) { return {s.begin(), s.end()}; }

// What the ledger says the caches hold.
std::size_t accounted() { return ledger().bytes(Category::Traces) + ledger().bytes(Category::Cache); }

}  // namespace

TEST(memory_cache_hits_only_on_equal_input_and_accounts_exactly) {
  const std::size_t base = accounted();
  {
    MemoryCache cache(1 << 30);
    const auto in = input_bytes("block A input");
    const Key key = hash128(in.data(), in.size());
    CHECK(cache.find_block(key, in) == nullptr);
    const auto stored = cache.put_block(key, in, trace_of_size(100, 7));
    CHECK(stored && stored->vertex_count == 7);
    CHECK(cache.find_block(key, in) == stored);
    // Same key, different input: never a hit.
    CHECK(cache.find_block(key, input_bytes("block B input")) == nullptr);
    CHECK_EQ(accounted() - base, cache.held_bytes());
    CHECK(cache.held_bytes() > stored->bytes());
    CHECK(ledger().bytes(Category::Cache) > 0);
  }
  CHECK_EQ(accounted(), base);
}

TEST(memory_cache_evicts_least_recently_used_blocks_on_trim) {
  const std::size_t base = accounted();
  MemoryCache cache(1 << 30);
  std::vector<Key> keys;
  std::vector<std::vector<std::uint8_t>> inputs;
  for (std::uint32_t i = 0; i < 4; ++i) {
    inputs.push_back(input_bytes("input " + std::to_string(i)));
    keys.push_back(hash128(inputs.back().data(), inputs.back().size()));
    cache.put_block(keys.back(), inputs.back(), trace_of_size(1000, i));
  }
  CHECK(cache.find_block(keys[0], inputs[0]) != nullptr);  // 0 is now the most recent
  const std::uint64_t per_entry = cache.held_bytes() / 4;
  cache.set_budget(per_entry * 2 + per_entry / 2);
  CHECK_EQ(cache.stats().blocks, 2u);
  CHECK(cache.find_block(keys[0], inputs[0]) != nullptr);
  CHECK(cache.find_block(keys[3], inputs[3]) != nullptr);
  CHECK(cache.find_block(keys[1], inputs[1]) == nullptr);
  CHECK(cache.held_bytes() <= per_entry * 2 + per_entry / 2);
  CHECK_EQ(accounted() - base, cache.held_bytes());
  const std::uint64_t held = cache.held_bytes();
  const std::uint64_t traces_before = ledger().bytes(Category::Traces), cache_before = ledger().bytes(Category::Cache);
  const CacheClearStats cleared = cache.clear();
  CHECK_EQ(cleared.traces, 2u);
  CHECK_EQ(cleared.trace_bytes + cleared.cache_bytes, held);
  CHECK_EQ(cleared.trace_bytes, traces_before - ledger().bytes(Category::Traces));
  CHECK_EQ(cleared.cache_bytes, cache_before - ledger().bytes(Category::Cache));
  CHECK_EQ(cache.held_bytes(), 0u);
}

TEST(a_cached_model_trace_pins_its_blocks) {
  const std::size_t base = accounted();
  MemoryCache cache(1 << 30);
  const auto in = input_bytes("pinned block");
  const Key block_key = hash128(in.data(), in.size());
  ModelTrace model;
  model.rewards.assign(50, 1.0);
  ComposedBlock b;
  b.trace = cache.put_block(block_key, in, trace_of_size(500, 1));
  b.cacheable = true;
  b.vertices.assign(10, 0);
  model.blocks.push_back(std::move(b));
  ComposedBlock small;  // recorded by composition itself: owned by the model
  small.trace = share(trace_of_size(20, 2));
  model.blocks.push_back(std::move(small));
  const Key model_key = hash128("model", 5);
  ModelLabels labels{{"coal", "mig"}, {1.0, 0.5}, {"time", "tmrca"}};
  cache.put_model(model_key, std::move(model), labels, {block_key}, "{}");
  CHECK_EQ(accounted() - base, cache.held_bytes());

  const auto other = input_bytes("unpinned block");
  cache.put_block(hash128(other.data(), other.size()), other, trace_of_size(500, 3));
  cache.set_budget(1);  // everything may go, except the latest model and what it pins
  const CacheStats s = cache.stats();
  CHECK_EQ(s.models, 1u);
  CHECK_EQ(s.blocks, 1u);
  CHECK(cache.find_block(block_key, in) != nullptr);
  {
    const CachedModel found = cache.find_model(model_key);
    CHECK(found.trace != nullptr);
    CHECK(found.labels.params == labels.params && found.labels.rewards == labels.rewards);
    CHECK(found.labels.param_defaults == labels.param_defaults);
  }
  CHECK_EQ(accounted() - base, cache.held_bytes());
  cache.clear();
  CHECK_EQ(accounted(), base);
}

namespace {

std::string fixture(const char* name) { return read(fs::path("test/fixtures/engine") / name); }

// After any engine call: only the caches hold memory (graph bytes: the parametric
// graphs beside model traces), and the ledger agrees with them.
void check_only_caches_hold_memory(Engine& e) {
  CHECK_EQ(ledger().bytes(Category::Subgraphs), 0u);
  CHECK_EQ(ledger().bytes(Category::Evaluation), 0u);
  CHECK_EQ(ledger().bytes(Category::Graph) + ledger().bytes(Category::Traces) + ledger().bytes(Category::Cache),
           e.memory_cache().held_bytes());
}

// Deep equality of two JSON values (object members in document order).
bool equal(const json::Value& a, const json::Value& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::Type::Null: return true;
    case json::Type::Bool: return a.as_bool() == b.as_bool();
    case json::Type::Number: return a.as_number() == b.as_number();
    case json::Type::String: return a.as_string() == b.as_string();
    case json::Type::Array: {
      const json::Array &x = a.as_array(), &y = b.as_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i)
        if (!equal(x[i], y[i])) return false;
      return true;
    }
    case json::Type::Object: {
      const json::Object &x = a.as_object(), &y = b.as_object();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i)
        if (x[i].key != y[i].key || !equal(x[i].value, y[i].value)) return false;
      return true;
    }
  }
  return false;
}

// A run answered from a cached run: reused, only the evaluating phase, no block
// subgraph built, and afterwards only the caches hold memory.
json::Value run_without_exploring(Engine& e, const std::string& model, const RunOptions& options) {
  std::vector<RunPhase> phases;
  std::size_t block_events = 0;
  RunObserver observer;
  observer.progress = [&](const RunProgress& p) { phases.push_back(p.phase); };
  observer.block = [&](const BlockEvent&) { ++block_events; };
  json::Value result = json::parse(e.run(model, options, observer));
  check_only_caches_hold_memory(e);
  CHECK(result.find("reused")->as_bool());
  CHECK_EQ(block_events, 0u);
  for (const RunPhase p : phases) CHECK(p == RunPhase::Evaluating);
  return result;
}

std::size_t remove_run_entries(const fs::path& dir) {
  std::vector<fs::path> runs;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".run") runs.push_back(entry.path());
  for (const fs::path& p : runs) fs::remove(p);
  return runs.size();
}

}  // namespace

TEST(a_run_leaves_only_what_the_caches_hold_and_clear_returns_to_zero) {
  TempDir dir;
  Engine e;
  e.configure({dir.path.string(), 1 << 26, 1 << 26, 0});
  const std::string model = fixture("structured_n8_d3.json");
  RunOptions options;
  options.moments = 3;
  std::vector<BlockEvent> events;
  RunObserver observer;
  observer.block = [&](const BlockEvent& b) { events.push_back(b); };
  const std::string first = e.run(model, options, observer);
  check_only_caches_hold_memory(e);
  CHECK(!events.empty() && events.size() % 2 == 0);
  CHECK(first.find("\"recorded\":0,") == std::string::npos);
  const std::string second = e.run(model, options, {});
  check_only_caches_hold_memory(e);
  // Same moments from the memory cache (the JSON up to the timings is identical but
  // for the cached/recorded counts, so compare the moments member).
  auto moments = [](const std::string& json) {
    const auto a = json.find("\"moments\""), b = json.find("\"timingsMs\"");
    return json.substr(a, b - a);
  };
  CHECK(moments(first) == moments(second));
  e.clear_caches();
  for (int c = 0; c < kCategoryCount; ++c) CHECK_EQ(ledger().bytes(static_cast<Category>(c)), 0u);
  CHECK_EQ(e.disk_cache()->usage().files, 0u);
}

// A batch's solution placement depends only on its trace, so the engine builds it once
// per cached model trace, at the first batch that runs lane groups (8 θ or more), and
// keeps it in the trace's cache entry: counted there (Category::Traces, and so in what
// the cache holds), never rebuilt by a later batch, and freed by Clear Caches, which
// says so in its freed trace bytes (decision 97).
TEST(a_batchs_placement_is_built_once_kept_with_its_trace_and_freed_by_clear) {
  TempDir dir;
  Engine e;
  e.configure({dir.path.string(), 1 << 26, 1 << 26, 0});
  RunOptions options;
  options.moments = 2;
  const json::Value run = json::parse(e.run(fixture("rabbits.json"), options, {}));
  const std::string key = run.find("traceKey")->as_string();
  check_only_caches_hold_memory(e);
  const std::size_t traces = ledger().bytes(Category::Traces);
  // The placement an evaluation of this trace needs, built here on its own.
  std::size_t placement_bytes = 0;
  {
    Key parsed;
    CHECK(Key::parse(key, parsed));
    const CachedModel cached = e.memory_cache().find_model(parsed);
    CHECK(cached.trace != nullptr);
    placement_bytes = SolutionPlacement(*cached.trace).bytes();
  }
  CHECK(placement_bytes > 0);

  std::vector<NamedValues> seven, eight;
  for (int i = 0; i < 8; ++i) (i < 7 ? seven : eight).push_back({{"jump", 1.0 + 0.125 * i}});
  eight.insert(eight.begin(), seven.begin(), seven.end());
  // Seven θ run one at a time: no placement is built.
  const json::Value one_by_one = json::parse(e.evaluate(key, seven, 2, {}));
  CHECK_EQ(ledger().bytes(Category::Traces), traces);
  const json::Value first = json::parse(e.evaluate(key, eight, 2, {}));
  check_only_caches_hold_memory(e);
  CHECK_EQ(ledger().bytes(Category::Traces), traces + placement_bytes);
  const json::Value second = json::parse(e.evaluate(key, eight, 2, {}));
  check_only_caches_hold_memory(e);
  CHECK_EQ(ledger().bytes(Category::Traces), traces + placement_bytes);
  // The lanes answer what one θ at a time answers, bit for bit, with the placement
  // built or kept.
  for (std::size_t i = 0; i < 8; ++i) {
    const json::Value& a = first.as_array()[i];
    CHECK(equal(*a.find("moments"), *second.as_array()[i].find("moments")));
    if (i < 7) CHECK(equal(*a.find("moments"), *one_by_one.as_array()[i].find("moments")));
  }

  const json::Value cleared = json::parse(e.clear_caches());
  CHECK_EQ(std::size_t(cleared.find("freedBytes")->find("traces")->as_number()), traces + placement_bytes);
  for (int c = 0; c < kCategoryCount; ++c) CHECK_EQ(ledger().bytes(static_cast<Category>(c)), 0u);
}

TEST(a_cancelled_or_over_budget_run_frees_what_it_built) {
  Engine e;
  e.configure({"", 0, 1 << 26, 0});
  const std::string model = fixture("two_locus.json");
  std::atomic<bool> cancel{false};
  RunObserver observer;
  observer.cancel = &cancel;
  observer.progress = [&](const RunProgress& p) {
    if (p.phase == RunPhase::Recording && p.done == 3) cancel = true;
  };
  bool cancelled = false;
  try {
    e.run(model, {}, observer);
  } catch (const Cancelled&) {
    cancelled = true;
  }
  CHECK(cancelled);
  check_only_caches_hold_memory(e);
  CHECK(e.memory_cache().stats().blocks > 0);  // what was recorded before the cancel stays cached

  e.clear_caches();
  e.configure({"", 0, 1 << 26, 64 * 1024});
  bool over_budget = false;
  try {
    e.run(model, {}, {});
  } catch (const BudgetExceeded&) {
    over_budget = true;
  }
  CHECK(over_budget);
  CHECK_EQ(ledger().budget(), 0u);  // the budget is only in force during a run
  check_only_caches_hold_memory(e);
  e.clear_caches();
}

TEST(a_sound_file_whose_payload_does_not_decode_is_replaced_by_a_recording) {
  TempDir dir;
  Engine e;
  e.configure({dir.path.string(), 1 << 26, 1 << 26, 0});
  const std::string model = fixture("structured_n8_d3.json");
  const std::string reference = e.run(model, {}, {});
  // Rewrite one block's file with a correct header, checksum and input, but a payload
  // that is not a trace (as an incompatible engine version might have written).
  fs::path victim;
  for (const auto& entry : fs::directory_iterator(dir.path))
    if (entry.path().extension() == ".trace") victim = entry.path();
  CHECK(!victim.empty());
  const std::string file = read(victim);
  std::uint64_t payload_length, canonical_length;
  std::memcpy(&payload_length, file.data() + 32, 8);
  std::memcpy(&canonical_length, file.data() + 40, 8);
  DiskCache disk(dir.path.string(), 1 << 26);
  const std::size_t identity_length = disk.identity().size();
  const std::string canonical = file.substr(DiskCacheFormat::kHeaderBytes + payload_length + identity_length,
                                            canonical_length - identity_length);
  Key key;
  CHECK(Key::parse(victim.stem().string(), key));
  disk.store(key, canonical, "PTTR but not a trace at all");

  // This is about blocks: without the run's own entry the next run explores again.
  remove_run_entries(dir.path);
  e.memory_cache().clear();
  const std::string again = e.run(model, {}, {});
  const json::Value result = json::parse(again);
  std::size_t recorded = 0;
  for (const json::Value& scc : result.find("decomposition")->find("sccs")->as_array())
    if (scc.find("source")->as_string() == "recorded") {
      ++recorded;
      CHECK(scc.find("key")->as_string() == key.hex());
    }
  CHECK(recorded >= 1);
  CHECK(read(victim) == file);  // the recording rewrote the file as it was
  const json::Value first = json::parse(reference);
  const auto& m1 = first.find("moments")->find("tmrca")->as_array();
  const auto& m2 = result.find("moments")->find("tmrca")->as_array();
  CHECK_EQ(m1[0].as_number(), m2[0].as_number());
  CHECK_EQ(m1[1].as_number(), m2[1].as_number());
  check_only_caches_hold_memory(e);
  e.clear_caches();
}

TEST(an_unchanged_model_is_not_explored_again_and_reports_what_a_fresh_run_does) {
  Engine e;
  e.configure({"", 0, 1 << 26, 0});
  const std::string model = fixture("two_locus.json");
  RunOptions options;
  options.params = {{"rec", 0.5}};
  const json::Value first = json::parse(e.run(model, options, {}));
  CHECK(!first.find("reused")->as_bool());
  CHECK(e.memory_cache().stats().runs == 1);

  options.params = {{"rec", 2.0}};
  const json::Value again = run_without_exploring(e, model, options);
  CHECK(again.find("memory")->find("blocks")->as_array().empty());
  CHECK_EQ(again.find("timingsMs")->find("explore")->as_number(), 0.0);

  // Everything about the graph is what the first run reported, every block now from memory.
  for (const char* member : {"model", "vertices", "edges", "absorbing", "traceKey", "ruleFirings", "warnings"})
    CHECK(equal(*first.find(member), *again.find(member)));
  const auto& sccs1 = first.find("decomposition")->find("sccs")->as_array();
  const auto& sccs2 = again.find("decomposition")->find("sccs")->as_array();
  CHECK_EQ(sccs1.size(), sccs2.size());
  for (std::size_t c = 0; c < sccs1.size(); ++c) {
    for (const char* member :
         {"vertices", "internalEdges", "exitEdges", "absorbing", "operations", "key", "firstVertex"})
      CHECK(equal(*sccs1[c].find(member), *sccs2[c].find(member)));
    const bool trivial = sccs1[c].find("source")->as_string() == "trivial";
    CHECK(sccs2[c].find("source")->as_string() == (trivial ? "trivial" : "memory"));
  }
  CHECK(equal(*first.find("decomposition")->find("edges"), *again.find("decomposition")->find("edges")));
  const auto* sccs = again.find("sccs");
  CHECK_EQ(sccs->find("recorded")->as_number(), 0.0);
  CHECK_EQ(sccs->find("cached")->as_number(), sccs->find("blocks")->as_number());

  // The moments at the new θ are those of a fresh engine.
  Engine fresh;
  fresh.configure({"", 0, 1 << 26, 0});
  const json::Value reference = json::parse(fresh.run(model, options, {}));
  CHECK(!reference.find("reused")->as_bool());
  CHECK(equal(*reference.find("moments"), *again.find("moments")));
  fresh.clear_caches();

  // A state limit below the cached graph's size is enforced as in a fresh run.
  options.max_states = 5;
  bool limited = false;
  try {
    e.run(model, options, {});
  } catch (const EngineError& error) {
    limited = std::string(error.what()).find("more than 5 states") != std::string::npos;
  }
  CHECK(limited);

  // Another text of the same model (a different block threshold) is explored.
  options.max_states = 0;
  options.min_scc_size = 5;
  CHECK(!json::parse(e.run(model, options, {})).find("reused")->as_bool());
  CHECK(e.memory_cache().stats().runs == 2);
  const CacheClearStats cleared = e.memory_cache().clear();
  CHECK(cleared.traces > 0);
  CHECK(e.memory_cache().stats().runs == 0);
  check_only_caches_hold_memory(e);
  e.clear_caches();
}

TEST(a_run_summary_leaves_the_cache_before_the_trace_it_pins) {
  Engine e;
  e.configure({"", 0, 1 << 26, 0});
  const std::string a = fixture("two_locus.json"), b = fixture("structured_n8_d3.json");
  e.run(a, {}, {});
  e.run(b, {}, {});
  CHECK(e.memory_cache().stats().runs == 2);
  // A budget that holds only the latest model trace: A's summary and trace both go,
  // B's summary goes too (only the trace is protected), and nothing stale remains.
  e.configure({"", 0, 1, 0});
  CHECK(e.memory_cache().stats().runs == 0);
  CHECK(e.memory_cache().stats().models == 1);
  check_only_caches_hold_memory(e);
  e.configure({"", 0, 1 << 26, 0});
  CHECK(!json::parse(e.run(a, {}, {})).find("reused")->as_bool());
  CHECK(json::parse(e.run(a, {}, {})).find("reused")->as_bool());
  check_only_caches_hold_memory(e);
  e.clear_caches();
}

static std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  CHECK(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// Same-graph models with other labels: each run, reused run and evaluation answers
// with the model's own parameter names, defaults and reward names.
TEST(same_graph_models_with_other_labels_never_share_an_answer) {
  Engine e;
  e.configure({"", 0, 1 << 26, 0});
  const std::string a = fixtures::kingman(4);
  const std::string b = replaced(a, R"("default":1.0)", R"("default":2.0)");
  const std::string c = replaced(a, R"("name":"theta")", R"("name":"rho")");
  const std::string d = replaced(a, R"({"name":"tmrca")", R"({"name":"height")");
  // E[T_MRCA] of Kingman n = 4 is 1.5/θ.
  auto check_run = [&](const std::string& text, const std::string& param, double theta, const std::string& reward) {
    const json::Value r = json::parse(e.run(text, {}, {}));
    const json::Value* params = r.find("params");
    CHECK(params->find(param) && params->find(param)->as_number() == theta);
    CHECK_EQ(params->as_object().size(), std::size_t(1));
    const json::Value* m = r.find("moments")->find(reward);
    CHECK(m && std::fabs(m->as_array()[0].as_number() - 1.5 / theta) < 1e-12);
    return r.find("traceKey")->as_string();
  };
  const std::string ka = check_run(a, "theta", 1, "tmrca");
  const std::string kb = check_run(b, "theta", 2, "tmrca");
  CHECK(check_run(a, "theta", 1, "tmrca") == ka);
  const std::string kc = check_run(c, "rho", 1, "tmrca");
  CHECK(check_run(a, "theta", 1, "tmrca") == ka);
  const std::string kd = check_run(d, "theta", 1, "height");
  CHECK(check_run(a, "theta", 1, "tmrca") == ka);
  CHECK(ka != kb && ka != kc && ka != kd && kb != kc && kb != kd && kc != kd);
  CHECK_EQ(e.memory_cache().stats().models, std::uint64_t(4));
  const json::Value eb = json::parse(e.evaluate(kb, {{}}, 1, {}));
  CHECK(eb.as_array()[0].find("params")->find("theta")->as_number() == 2);
  const json::Value ec = json::parse(e.evaluate(kc, {{{"rho", 3.0}}}, 1, {}));
  CHECK(std::fabs(ec.as_array()[0].find("moments")->find("tmrca")->as_array()[0].as_number() - 0.5) < 1e-12);
  const json::Value ed = json::parse(e.evaluate(kd, {{}}, 1, {}));
  CHECK(ed.as_array()[0].find("moments")->find("height") != nullptr);
  CHECK(ed.as_array()[0].find("moments")->find("tmrca") == nullptr);
  check_only_caches_hold_memory(e);
  e.clear_caches();
}

// ---- runs on disk (engine/run_entry.hpp) ----------------------------------------

namespace {

fs::path only_run_entry(const fs::path& dir) {
  fs::path found;
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".run") found = entry.path(), ++n;
  CHECK_EQ(n, std::size_t(1));
  return found;
}

// A run in an engine of its own on `dir`, whose memory cache is then cleared: what is
// left is what it wrote, as after a process that ran the model and exited.
json::Value run_and_exit(const fs::path& dir, const std::string& model, const RunOptions& options = {}) {
  Engine writer;
  writer.configure({dir.string(), 1 << 28, 1 << 28, 0});
  json::Value result = json::parse(writer.run(model, options, {}));
  writer.memory_cache().clear();
  return result;
}

std::vector<std::string> sources_of(const json::Value& run) {
  std::vector<std::string> sources;
  for (const json::Value& scc : run.find("decomposition")->find("sccs")->as_array())
    sources.push_back(scc.find("source")->as_string());
  return sources;
}

}  // namespace

// A new engine (as a new process has) with the same cache directory answers an
// unchanged model from the run's entry: nothing explored, no block built, every block
// reported from disk, the very numbers of a run without any cache, and the entry
// holds what distributions and the SCC detail need.
TEST(a_new_engine_answers_an_unchanged_model_from_its_run_entry_without_exploring) {
  TempDir dir;
  const std::string model = fixture("two_locus.json");
  RunOptions options;
  options.params = {{"rec", 0.5}};
  DistributionRequest request;
  request.times = std::vector<double>{0.5, 1, 2, 4};
  std::string first_distribution;
  json::Value first;
  {
    Engine writer;
    writer.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
    first = json::parse(writer.run(model, options, {}));
    CHECK(!first.find("reused")->as_bool());
    first_distribution = writer.distribution(first.find("traceKey")->as_string(), request, {});
    writer.memory_cache().clear();
  }
  only_run_entry(dir.path);

  Engine e;
  e.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
  options.params = {{"rec", 2.0}};
  const json::Value again = run_without_exploring(e, model, options);
  CHECK_EQ(again.find("timingsMs")->find("explore")->as_number(), 0.0);
  for (const char* member : {"model", "vertices", "edges", "absorbing", "traceKey", "ruleFirings", "warnings"})
    CHECK(equal(*first.find(member), *again.find(member)));
  // The same program (its bytes may be fewer: read traces have no vector slack).
  for (const char* member : {"operations", "commands"})
    CHECK(equal(*first.find("trace")->find(member), *again.find("trace")->find(member)));
  const std::vector<std::string> before = sources_of(first), after = sources_of(again);
  CHECK_EQ(before.size(), after.size());
  std::size_t from_disk = 0;
  for (std::size_t c = 0; c < after.size(); ++c) {
    CHECK(after[c] == (before[c] == "trivial" ? "trivial" : "disk"));
    from_disk += after[c] == "disk";
  }
  CHECK(from_disk > 0);
  CHECK(equal(*first.find("decomposition")->find("edges"), *again.find("decomposition")->find("edges")));

  // The numbers are those of an engine without any cache, exactly.
  Engine fresh;
  fresh.configure({"", 0, 1 << 28, 0});
  const json::Value reference = json::parse(fresh.run(model, options, {}));
  CHECK(equal(*reference.find("moments"), *again.find("moments")));
  CHECK(equal(*reference.find("variance"), *again.find("variance")));
  fresh.clear_caches();

  // Distributions and the SCC detail work from the restored run as from the first.
  const std::string trace_key = again.find("traceKey")->as_string();
  const json::Value d1 = json::parse(first_distribution);
  const json::Value d2 = json::parse(e.distribution(trace_key, request, {}));
  CHECK(equal(*d1.find("cdf"), *d2.find("cdf")));
  CHECK(equal(*d1.find("pdf"), *d2.find("pdf")));
  CHECK(json::parse(e.scc_detail(trace_key, 1, {}, 0)).find("states") != nullptr);

  // The next run in this engine is an ordinary reuse, from memory.
  const json::Value third = json::parse(e.run(model, options, {}));
  CHECK(third.find("reused")->as_bool());
  for (const std::string& s : sources_of(third)) CHECK(s == "trivial" || s == "memory");
  check_only_caches_hold_memory(e);
  e.memory_cache().clear();
}

// A cache directory written by another engine (another identity: other sources, as
// before a recording fix) answers nothing: the run explores and records every block
// as if the directory were empty, with the same numbers and no warning. The same
// files rewritten under this engine's identity are served (so the copies are sound).
TEST(a_run_never_answers_from_files_another_engine_identity_wrote) {
  TempDir written, other, same;
  const std::string model = fixture("structured_n8_d3.json");
  RunOptions options;
  options.moments = 3;
  const json::Value reference = run_and_exit(written.path, model, options);
  DiskCache from(written.path.string(), 1 << 28);
  DiskCache as_other(other.path.string(), 1 << 28, "phasic engine; source 00000000 (an older build)");
  DiskCache as_same(same.path.string(), 1 << 28);
  // Each file's payload and canonical input, stored again by the other caches.
  auto copy = [&](const Key& key, EntryKind kind) {
    const std::string file = read(from.path_of(key, kind));
    std::uint64_t payload_length;
    std::memcpy(&payload_length, file.data() + 32, 8);
    const std::string payload = file.substr(DiskCacheFormat::kHeaderBytes, payload_length);
    const std::string stored_input = file.substr(DiskCacheFormat::kHeaderBytes + payload_length);
    CHECK(stored_input.rfind(from.identity(), 0) == 0);
    const std::string canonical = stored_input.substr(from.identity().size());
    CHECK(as_other.store(key, canonical, payload, kind));
    CHECK(as_same.store(key, canonical, payload, kind));
  };
  std::size_t blocks = 0;
  for (const json::Value& scc : reference.find("decomposition")->find("sccs")->as_array())
    if (Key key; scc.find("source")->as_string() == "recorded" && Key::parse(scc.find("key")->as_string(), key)) {
      copy(key, EntryKind::Block);
      ++blocks;
    }
  CHECK(blocks > 0);
  copy(run_entry_key(run_entry_identity(model, options.min_scc_size)), EntryKind::Run);
  CHECK_EQ(as_other.usage().files, blocks + 1);

  Engine e;
  e.configure({other.path.string(), 1 << 28, 1 << 28, 0});
  const json::Value again = json::parse(e.run(model, options, {}));
  CHECK(!again.find("reused")->as_bool());
  CHECK(again.find("timingsMs")->find("explore")->as_number() > 0);
  CHECK_EQ(again.find("sccs")->find("recorded")->as_number(), double(blocks));
  for (const json::Value& scc : again.find("decomposition")->find("sccs")->as_array())
    CHECK(scc.find("source")->as_string() != "disk");
  CHECK(again.find("warnings")->as_array().empty());
  CHECK(equal(*reference.find("moments"), *again.find("moments")));
  // The other engine's files are replaced by this engine's.
  CHECK_EQ(DiskCache(other.path.string(), 1 << 28).usage().files, blocks + 1);
  for (const auto& entry : fs::directory_iterator(other.path))
    if (entry.path().extension() == ".trace" || entry.path().extension() == ".run")
      CHECK(read(entry.path()).find(engine_identity()) != std::string::npos);
  e.memory_cache().clear();

  Engine control;
  control.configure({same.path.string(), 1 << 28, 1 << 28, 0});
  const json::Value served = json::parse(control.run(model, options, {}));
  CHECK(served.find("reused")->as_bool());
  CHECK(equal(*reference.find("moments"), *served.find("moments")));
  control.memory_cache().clear();
}

// A run entry that is truncated, corrupted, or sound on disk but not a run is a miss:
// the run explores (with its blocks from disk), answers exactly, and writes a whole
// entry over the bad one.
TEST(a_damaged_run_entry_is_a_miss_and_is_replaced) {
  TempDir dir;
  const std::string model = fixture("structured_n8_d3.json");
  RunOptions options;
  options.moments = 3;
  const json::Value reference = run_and_exit(dir.path, model, options);
  const fs::path entry = only_run_entry(dir.path);
  const std::string whole = read(entry);
  const std::string identity = run_entry_identity(model, options.min_scc_size);
  const Key key = run_entry_key(identity);
  CHECK(entry.stem().string() == key.hex());

  std::string flipped = whole;
  flipped[flipped.size() / 2] ^= 0x20;
  for (const std::string& damaged : {whole.substr(0, whole.size() / 3), flipped, std::string()}) {
    if (damaged.empty())  // checksummed and keyed right, but not a run entry
      CHECK(DiskCache(dir.path.string(), 1 << 28).store(key, identity, "PTRN and nothing else", EntryKind::Run));
    else
      write(entry, damaged);
    Engine e;
    e.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
    const json::Value run = json::parse(e.run(model, options, {}));
    CHECK(!run.find("reused")->as_bool());
    CHECK(run.find("timingsMs")->find("explore")->as_number() > 0);
    CHECK(equal(*reference.find("moments"), *run.find("moments")));
    CHECK(read(entry) == whole);
    e.memory_cache().clear();
  }
}

// Every change that changes an answer or a label keys another entry: a new engine
// running each model answers with that model's own labels and numbers, from its own
// entry, never another's.
TEST(a_run_entry_answers_only_the_model_text_it_was_written_for) {
  TempDir dir;
  const std::string a = fixtures::kingman(4);
  const std::vector<std::string> models = {
      a,
      replaced(a, R"("default":1.0)", R"("default":2.0)"),       // a parameter default
      replaced(a, R"("name":"theta")", R"("name":"rho")"),       // a parameter name
      replaced(a, R"({"name":"tmrca")", R"({"name":"height")"),  // a reward name
      fixtures::kingman(5),                                      // the graph (a constant)
  };
  // E[T_MRCA] of Kingman n is 2(1 − 1/n)/θ.
  struct Expected {
    std::string param;
    double theta;
    std::string reward;
    double mean;
  };
  const std::vector<Expected> expected = {
      {"theta", 1, "tmrca", 1.5},  {"theta", 2, "tmrca", 0.75}, {"rho", 1, "tmrca", 1.5},
      {"theta", 1, "height", 1.5}, {"theta", 1, "tmrca", 1.6},
  };
  auto check_answer = [&](const json::Value& r, const Expected& x) {
    const json::Value* params = r.find("params");
    CHECK(params->find(x.param) && params->find(x.param)->as_number() == x.theta);
    CHECK_EQ(params->as_object().size(), std::size_t(1));
    const json::Value* m = r.find("moments")->find(x.reward);
    CHECK(m && std::fabs(m->as_array()[0].as_number() - x.mean) < 1e-12);
  };
  {
    Engine writer;
    writer.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
    for (std::size_t i = 0; i < models.size(); ++i)
      check_answer(json::parse(writer.run(models[i], {}, {})), expected[i]);
    writer.memory_cache().clear();
  }
  std::size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) entries += entry.path().extension() == ".run";
  CHECK_EQ(entries, models.size());
  // In reverse order, so that no model is answered by the one written just before it.
  Engine e;
  e.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
  for (std::size_t i = models.size(); i-- > 0;) {
    const json::Value r = json::parse(e.run(models[i], {}, {}));
    CHECK(r.find("reused")->as_bool());
    check_answer(r, expected[i]);
  }
  // The block size threshold shapes the composition: another threshold, another entry.
  RunOptions other;
  other.min_scc_size = 7;
  CHECK(!json::parse(e.run(a, other, {})).find("reused")->as_bool());
  e.memory_cache().clear();
}

namespace {

// The payload of a cache file (the run entry itself), as run_entry.hpp lays it out.
std::string payload_of(const std::string& file) {
  std::uint64_t payload_length;
  std::memcpy(&payload_length, file.data() + 32, 8);
  return file.substr(DiskCacheFormat::kHeaderBytes, payload_length);
}

RunEntry decode(const std::string& payload) {
  return decode_run_entry(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
}

// The run entry of `model` rewritten with `answer` in place of the one its writer stored.
void store_with_answer(const fs::path& dir, const std::string& model, const RunOptions& options,
                       const StoredAnswer* answer) {
  const RunEntry entry = decode(payload_of(read(only_run_entry(dir))));
  const std::vector<std::uint8_t> bytes = encode_run_entry(entry.summary, entry.labels, entry.trace, entry.graph,
                                                           answer);
  const std::string identity = run_entry_identity(model, options.min_scc_size);
  CHECK(DiskCache(dir.string(), 1 << 28)
            .store(run_entry_key(identity), identity,
                   std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), EntryKind::Run));
}

double mean_of(const json::Value& run, const char* reward) {
  return run.find("moments")->find(reward)->as_array()[0].as_number();
}

}  // namespace

// A run entry decodes before its checksum is known (it streams, decision 56): one
// whose stored answer lost a bit decodes without complaint, and still is never served.
TEST(a_run_entry_whose_answer_is_damaged_is_not_served) {
  TempDir dir;
  const std::string model = fixture("two_locus.json");
  RunOptions options;
  const json::Value reference = run_and_exit(dir.path, model, options);
  const fs::path entry = only_run_entry(dir.path);
  const std::string whole = read(entry);
  std::uint64_t payload_length;
  std::memcpy(&payload_length, whole.data() + 32, 8);
  // The low byte of the last variance: the payload ends with it and the absorption flag.
  std::string damaged = whole;
  damaged[DiskCacheFormat::kHeaderBytes + payload_length - 9] ^= 0x01;
  const std::string payload = payload_of(damaged);
  CHECK(decode(payload).answer.has_value());
  write(entry, damaged);
  Engine e;
  e.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
  const json::Value run = json::parse(e.run(model, options, {}));
  CHECK(!run.find("reused")->as_bool());
  for (const char* member : {"moments", "variance"}) CHECK(equal(*reference.find(member), *run.find(member)));
  CHECK(read(entry) == whole);
  e.memory_cache().clear();
}

// The run that writes an entry stores its own answer in it (decision 49), and a new
// engine asked exactly that (same θ bit for bit, moments, covariance pairs) answers
// with it, the very numbers of an engine without any cache. Any other request
// evaluates: shown by an entry whose stored answer is made wrong on purpose, which is
// served only to the request it names.
TEST(a_run_entry_answers_its_writers_own_request_and_evaluates_any_other) {
  TempDir dir;
  const std::string model = fixture("two_locus.json");
  RunOptions options;
  options.params = {{"rec", 0.5}};
  options.moments = 3;
  options.covariances = {{"time", "tmrca"}};
  const json::Value first = run_and_exit(dir.path, model, options);
  Engine fresh;
  fresh.configure({"", 0, 1 << 28, 0});
  auto reference = [&](const RunOptions& o) { return json::parse(fresh.run(model, o, {})); };
  auto in_new_engine = [&](const RunOptions& o) {
    Engine e;
    e.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
    // Not run_without_exploring: the reference engine and the decoded entries here
    // hold counted memory of their own.
    json::Value r = json::parse(e.run(model, o, {}));
    CHECK(r.find("reused")->as_bool());
    CHECK_EQ(r.find("timingsMs")->find("explore")->as_number(), 0.0);
    e.memory_cache().clear();
    return r;
  };

  const RunEntry written = decode(payload_of(read(only_run_entry(dir.path))));
  CHECK(written.answer.has_value());
  const std::vector<double> theta = {1.0, 0.5};  // coal's default, rec as asked
  const std::vector<RewardPair> pairs = {{0, 1}};
  CHECK(written.answer->answers(theta, 3, pairs));
  CHECK(!written.answer->answers(theta, 2, pairs));
  CHECK(!written.answer->answers(theta, 3, {}));
  CHECK(!written.answer->answers(std::vector<double>{1.0, 0.5000000000000001}, 3, pairs));

  const json::Value served = in_new_engine(options), expected = reference(options);
  for (const char* member : {"params", "moments", "variance", "covariance"}) {
    CHECK(equal(*first.find(member), *served.find(member)));
    CHECK(equal(*expected.find(member), *served.find(member)));
  }

  // The stored answer made wrong: served to its own request only.
  StoredAnswer wrong = *written.answer;
  wrong.moments.raw[0] = 12345.0;  // E[time] at θ
  store_with_answer(dir.path, model, options, &wrong);
  CHECK_EQ(mean_of(in_new_engine(options), "time"), 12345.0);
  RunOptions other_theta = options, other_moments = options, other_pairs = options, other_order = options;
  other_theta.params = {{"rec", 0.5000000000000001}};
  other_moments.moments = 2;
  other_pairs.covariances = {};
  other_order.covariances = {{"tmrca", "time"}};
  for (const RunOptions& o : {other_theta, other_moments, other_pairs, other_order}) {
    const json::Value r = in_new_engine(o), x = reference(o);
    CHECK(mean_of(r, "time") != 12345.0);
    for (const char* member : {"moments", "variance", "covariance"}) CHECK(equal(*x.find(member), *r.find(member)));
  }
  // A parameter named by its default value is the same θ.
  RunOptions named_default = options;
  named_default.params = {{"rec", 0.5}, {"coal", 1.0}};
  CHECK_EQ(mean_of(in_new_engine(named_default), "time"), 12345.0);

  // An entry without an answer (as a run whose evaluation failed writes) evaluates.
  store_with_answer(dir.path, model, options, nullptr);
  CHECK(!decode(payload_of(read(only_run_entry(dir.path)))).answer.has_value());
  CHECK(equal(*expected.find("moments"), *in_new_engine(options).find("moments")));
  fresh.clear_caches();
}

// A run cancelled while it evaluates has explored and composed its model: its run
// entry is written all the same, without an answer, and a new engine answers from it.
TEST(a_run_cancelled_in_evaluation_still_writes_its_run_entry_without_an_answer) {
  TempDir dir;
  const std::string model = fixture("two_locus.json");
  {
    Engine writer;
    writer.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
    std::atomic<bool> cancel{false};
    RunObserver observer;
    observer.cancel = &cancel;
    observer.progress = [&](const RunProgress& p) {
      if (p.phase == RunPhase::Evaluating) cancel = true;
    };
    bool cancelled = false;
    try {
      writer.run(model, {}, observer);
    } catch (const Cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    writer.memory_cache().clear();
  }
  CHECK(!decode(payload_of(read(only_run_entry(dir.path)))).answer.has_value());
  Engine e;
  e.configure({dir.path.string(), 1 << 28, 1 << 28, 0});
  const json::Value again = run_without_exploring(e, model, {});
  Engine fresh;
  fresh.configure({"", 0, 1 << 28, 0});
  CHECK(equal(*json::parse(fresh.run(model, {}, {})).find("moments"), *again.find("moments")));
  e.memory_cache().clear();
  fresh.clear_caches();
}

// A stored answer that does not fit its model is refused with the rest of the entry.
TEST(a_run_entry_with_an_answer_that_does_not_fit_its_model_is_refused) {
  TempDir dir;
  const std::string model = fixture("two_locus.json");
  RunOptions options;
  options.covariances = {{"time", "tmrca"}};
  run_and_exit(dir.path, model, options);
  const RunEntry entry = decode(payload_of(read(only_run_entry(dir.path))));
  CHECK(entry.answer.has_value());
  auto refused = [&](const StoredAnswer& a) {
    const std::vector<std::uint8_t> bytes = encode_run_entry(entry.summary, entry.labels, entry.trace, entry.graph, &a);
    bool threw = false;
    try {
      decode_run_entry(bytes.data(), bytes.size());
    } catch (const EngineError&) {
      threw = true;
    }
    return threw;
  };
  CHECK(!refused(*entry.answer));
  StoredAnswer a = *entry.answer;
  a.pairs[0].second = 2;  // two rewards: 0 and 1
  CHECK(refused(a));
  a = *entry.answer;
  a.theta.push_back(1.0);  // one value more than the model's two parameters
  CHECK(refused(a));
  a = *entry.answer;
  a.moments.variance.pop_back();
  CHECK(refused(a));
  a = *entry.answer;
  a.moments.covariance.push_back(0.0);
  CHECK(refused(a));
  a = *entry.answer;
  a.moments.moment_count = 0;
  a.moments.raw.clear();
  a.moments.variance.clear();
  CHECK(refused(a));
  a = *entry.answer;
  a.moments.raw.pop_back();
  CHECK(refused(a));
}

// A run entry is checksummed on disk, but one could still be crafted: mutated entries
// handed to the decoder directly are refused with an EngineError or decode to a run
// that evaluates without undefined behaviour (the sanitizer build checks that).
TEST(mutated_run_entries_are_refused_or_decode_to_something_safe) {
  TempDir dir;
  const std::string model = fixture("structured_n8_d3.json");
  run_and_exit(dir.path, model);
  const std::string file = read(only_run_entry(dir.path));
  std::uint64_t payload_length;
  std::memcpy(&payload_length, file.data() + 32, 8);
  const std::string good = file.substr(DiskCacheFormat::kHeaderBytes, payload_length);
  auto bytes = [](const std::string& s) { return reinterpret_cast<const std::uint8_t*>(s.data()); };
  {
    const RunEntry entry = decode_run_entry(bytes(good), good.size());
    const double theta[] = {1.0, 0.5};
    CHECK(std::isfinite(evaluate(entry.trace, theta, 2).moment(0, 1)));
  }
  for (std::size_t n = 0; n < good.size(); n += 1 + good.size() / 200) CHECK_THROWS(decode_run_entry(bytes(good), n));
  std::mt19937_64 rng(15);
  std::size_t accepted = 0;
  for (int round = 0; round < 1500; ++round) {
    std::string bad = good;
    for (int e = 0, edits = 1 + int(rng() % 3); e < edits; ++e) {
      const std::size_t at = rng() % bad.size();
      if (rng() % 2)
        bad[at] = char(rng());
      else
        bad[at] ^= char(1u << (rng() % 8));
    }
    try {
      const RunEntry entry = decode_run_entry(bytes(bad), bad.size());
      ++accepted;
      try {
        const double theta[] = {1.0, 0.5};
        (void)evaluate(entry.trace, theta, 2);
      } catch (const EngineError&) {
      }
    } catch (const EngineError&) {
    }
  }
  std::printf("  %zu of 1500 mutated run entries decoded\n", accepted);
  CHECK(accepted < 1500);
}

TEST_MAIN()
