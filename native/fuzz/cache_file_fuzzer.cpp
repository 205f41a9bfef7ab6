// Fuzzes the disk cache's reader: the input is a whole cache file. It is stored under
// the key its header names and loaded through DiskCache::load with the engine
// identity and canonical input the file itself
// carries (the stored input up to its first newline is the identity, as
// cache/engine_identity.hpp ends it; mutations reach past the checksum only when they
// are consistent); and its payload region is decoded by deserialize() directly (so
// that mutations of the serialized block trace reach the decoder despite the
// checksum). The payload is taken whole, as a block trace's is; the same file as a run
// entry is loaded again by a decoder that takes it in pieces of every size (decision
// 56). Invariants under test: load() is a hit only for a whole, consistent file and
// removes anything else, and the load in pieces is a hit exactly when the whole one is,
// with the same bytes;
// deserialize() accepts only what serialize() produces (re-serializing gives the same
// bytes) and otherwise throws.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cache/disk_cache.hpp"
#include "fuzz_support.hpp"
#include "trace/trace_format.hpp"

namespace {

std::uint64_t get64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// One directory per fuzzing process, on tmpfs when there is one.
const std::string& directory() {
  static const std::string dir = [] {
    std::string templ = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/phasic-fuzz-XXXXXX");
    if (!mkdtemp(templ.data())) std::abort();
    return templ;
  }();
  return dir;
}

void check_decoder(const std::uint8_t* data, std::size_t size) {
  using namespace phasic;
  fuzz::expect_clean_failure([&] {
    const BlockTrace trace = deserialize(data, size);
    const std::vector<std::uint8_t> again = serialize(trace);
    if (again.size() != size || std::memcmp(again.data(), data, size) != 0) std::abort();  // not the identity
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace phasic;
  fuzz::set_budget();
  constexpr std::size_t header = DiskCacheFormat::kHeaderBytes;
  Key key{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  std::string_view canonical;
  std::string identity = "fuzz\n";
  const std::uint8_t* payload = data;
  std::size_t payload_size = size;
  if (size >= header) {
    key = Key{get64(data + 16), get64(data + 24)};
    const std::uint64_t p = get64(data + 32), c = get64(data + 40);
    if (p <= size - header && c == size - header - p) {
      const std::string_view stored = fuzz::text_of(data + header + p, c);
      const std::size_t newline = stored.find('\n');
      canonical = newline == std::string_view::npos ? stored : stored.substr(newline + 1);
      if (newline != std::string_view::npos) identity.assign(stored.substr(0, newline + 1));
      payload = data + header;
      payload_size = p;
    }
  }
  check_decoder(payload, payload_size);

  DiskCache cache(directory(), std::uint64_t(1) << 30, identity);
  cache.begin_run();
  const std::string path = cache.path_of(key);
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  std::string loaded;
  bool whole_hit = false;
  fuzz::expect_clean_failure([&] {
    whole_hit = cache.load(key, canonical, [&](PayloadReader& in) {
      const std::uint64_t n = in.remaining();
      if (const std::uint8_t* p = in.take(n)) loaded.assign(reinterpret_cast<const char*>(p), n);
    });
    if (whole_hit) {
      // A file that passes every check holds exactly the payload its header frames.
      if (loaded.size() != payload_size || std::memcmp(loaded.data(), payload, payload_size) != 0) std::abort();
      check_decoder(reinterpret_cast<const std::uint8_t*>(loaded.data()), loaded.size());
    } else if (access(path.c_str(), F_OK) == 0) {
      std::abort();  // a rejected file must be removed
    }
  });
  std::remove(path.c_str());

  const std::string run_path = cache.path_of(key, EntryKind::Run);
  if (FILE* f = std::fopen(run_path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  std::string streamed;
  fuzz::expect_clean_failure([&] {
    const bool hit = cache.load(
        key, canonical,
        [&](PayloadReader& in) {
          for (std::uint64_t n = 1; in.remaining() > 0; n = n * 3 + 1) {
            const std::uint64_t piece = std::min<std::uint64_t>(n, in.remaining());
            if (n % 2 == 0) {
              const std::size_t at = streamed.size();
              streamed.resize(at + piece);
              if (!in.copy(streamed.data() + at, piece)) std::abort();
            } else {
              const std::uint8_t* p = in.take(piece);
              if (p == nullptr) std::abort();
              streamed.append(reinterpret_cast<const char*>(p), piece);
            }
          }
        },
        EntryKind::Run);
    if (hit != whole_hit) std::abort();
    if (hit) {
      if (streamed.size() != payload_size || std::memcmp(streamed.data(), payload, payload_size) != 0) std::abort();
    } else if (access(run_path.c_str(), F_OK) == 0) {
      std::abort();  // a rejected file must be removed
    }
  });
  std::remove(run_path.c_str());
  return 0;
}
