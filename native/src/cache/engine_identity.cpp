// Builds the engine identity of engine_identity.hpp.
#include "cache/engine_identity.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>

// The source hash: a -D of the addon's build, else the header the scripts generate.
#if !defined(PHASIC_ENGINE_SOURCE) && defined(__has_include)
#if __has_include(<phasic_engine_source.h>)
#include <phasic_engine_source.h>
#endif
#endif

namespace phasic {
namespace {

// The note of type NT_GNU_BUILD_ID in the loaded object that contains this code.
struct BuildIdSearch {
  const void* address;
  std::string hex;
};

int find_build_id(dl_phdr_info* info, std::size_t, void* data) {
  auto* search = static_cast<BuildIdSearch*>(data);
  const auto address = reinterpret_cast<ElfW(Addr)>(search->address);
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const ElfW(Addr) start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && address >= start && address < start + ph.p_memsz) mine = true;
  }
  if (!mine) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const std::uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const std::uint8_t* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, p, sizeof note);
      const std::uint8_t* name = p + sizeof note;
      const std::uint8_t* desc = name + ((note.n_namesz + 3) & ~3u);
      if (desc + note.n_descsz > end) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        static const char digits[] = "0123456789abcdef";
        for (std::uint32_t k = 0; k < note.n_descsz; ++k) {
          search->hex += digits[desc[k] >> 4];
          search->hex += digits[desc[k] & 15];
        }
        return 1;
      }
      p = desc + ((note.n_descsz + 3) & ~3u);
    }
  }
  return 1;
}

// The floating-point modes under which the same sources give other bits.
std::string floating_point_mode() {
  std::string mode;
#if defined(__FAST_MATH__)
  mode += " fast-math";
#endif
#if defined(__FMA__) || defined(__FP_FAST_FMA) || defined(__ARM_FEATURE_FMA)
  mode += " fma";
#endif
#if defined(__FLT_EVAL_METHOD__)
  mode += " eval" + std::to_string(__FLT_EVAL_METHOD__);
#endif
  return mode;
}

}  // namespace

const std::string& engine_build_id() {
  static const std::string id = [] {
    BuildIdSearch search{reinterpret_cast<const void*>(&engine_build_id), {}};
    dl_iterate_phdr(find_build_id, &search);
    return search.hex;
  }();
  return id;
}

const std::string& engine_identity() {
  static const std::string identity = [] {
#if defined(PHASIC_ENGINE_SOURCE)
    std::string source = std::string("source ") + PHASIC_ENGINE_SOURCE;
#else
    // Without a build id (a linker run without --build-id) the compile time of this
    // file stands in: coarser, since a rebuild of other files keeps it.
    std::string source = engine_build_id().empty() ? std::string("compiled " __DATE__ " " __TIME__)
                                                   : "build " + engine_build_id();
#endif
#if defined(__VERSION__)
    const std::string compiler = "; compiler " __VERSION__;
#else
    const std::string compiler;
#endif
    // The newline ends it: no part contains one, so a reader of a file (the cache file
    // fuzzer, a person with `head`) can tell the identity from the input after it.
    return "phasic engine; " + source + compiler + ";" + floating_point_mode() + "\n";
  }();
  return identity;
}

}  // namespace phasic
