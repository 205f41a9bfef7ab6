// The engine's identity on disk: what every file of the disk cache stores and every
// hit compares, so that a file written by an engine that computes answers differently (an
// older build before a recording fix, a build with another compiler or floating-point
// mode) is never served by this one. A file of another identity is a miss, never an
// error: its stored identity differs, so it fails the check every hit makes.
//
// Invariants:
// - The identity names the engine's sources: a hash of every file under native/src
//   (scripts/engine-source.mjs), defined by each build (binding.gyp as a macro; the
//   benchmark, the native tests and the fuzzers as a generated header), so the CLI and
//   the extension's language server, which load the same addon, share one identity,
//   and any edit of a source that computes answers changes it. The compiler's version
//   and the floating-point modes that change results (fused multiply-add, fast math)
//   are part of it too.
// - A build without the source hash (a compile outside the repository's scripts) uses
//   the GNU build id of the binary instead: any rebuild that changes the binary is a
//   new identity, so nothing of another build is ever served, only less is shared.
// - The string is the same for the life of the process, never empty, and ends with
//   its only newline.
#pragma once

#include <string>

namespace phasic {

const std::string& engine_identity();

// The GNU build id of the loaded object that holds this code, as hex ("" when the
// linker wrote none).
const std::string& engine_build_id();

}  // namespace phasic
