#include "distribution/certain_absorption.hpp"

namespace phasic {

bool certain_absorption(const ParametricGraph& g, std::span<const double> theta) {
  const auto mark = absorption_marks(g, [&](std::uint64_t e) {
    const double* form = g.coeffs.data() + e * g.stride();
    if (form[0] > 0) return true;
    for (std::uint32_t k = 0; k < g.param_count; ++k)
      if (form[k + 1] > 0 && theta[k] > 0) return true;
    return false;
  });
  for (VertexId u = 1; u < g.vertex_count; ++u)
    if (mark[u] == kTrapped) return false;
  return true;
}

}  // namespace phasic
