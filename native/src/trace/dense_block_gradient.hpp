// The adjoint of a block's dense part (dense_block_evaluation.hpp) for the gradient:
// what the outputs' derivatives need from the part, computed from its dense LU instead
// of running its recorded ops and commands backwards one by one.
//
// Why: on filled-in models the dense part is most of a block's ops (structured n = 8
// d = 5: 36 ops per command), and the gradient replayed them forwards and backwards
// (or with tangents) through indirect slots, at the replay's ≈ 1.7 ns an op, while one
// evaluation factors the part densely at a fraction of that.
//
// Method. The part solves M z = y with M = diag(λ) − W on its r vertices, where W is
// the hand-over matrix (DenseTail::entries: w_pq for q < r, leave_p in column r) and
// λ_p = Σ_q w_pq + leave_p: the elimination is the GTH form of an LU of M, so z is
// M⁻¹y exactly up to rounding, whatever order the solves run in. For an output with
// adjoint z̄ on z (what the commands after the part, run backwards, leave there):
//   ȳ = M⁻ᵀ z̄                                   (transpose_solve_dense)
//   ∂/∂w_pq = ȳ_p · (z_q − z_p),   ∂/∂leave_p = −ȳ_p · z_p
// (dM/dw_pq has +1 at (p, p) and −1 at (p, q), and −ȳᵀ(dM)z is the derivative of the
// output). Each hand-over entry is a value slot of the part before it, so these land on
// the program values the sparse part's adjoint (or tangents) carries on to θ; the
// part's own ops are neither replayed nor run backwards.
//
// Exactness: the results are the derivatives of the computed moments up to rounding,
// as the replayed adjoint is, but not bit for bit (tested against the replay's and
// against central differences of a long-double solve, random_graph_test.cpp). The
// difference z_q − z_p is where the replayed adjoint's terms of opposite sign cancel
// too; it is exact when z_q and z_p are within a factor 2 of each other. When z is
// not finite, ȳ_p·(z_q − z_p) can be ∞ − ∞ or 0·∞: NaN, which gradient.hpp reports
// as NaN (never a finite number that is not the derivative).
//
// Invariants: the factors are factor_dense<1>'s (one θ, one lane); y holds r values by
// position; nothing is allocated.
#pragma once

#include <cstdint>

namespace phasic {

// y := M⁻ᵀ y: the adjoint of solve_dense<1> (its back substitution's adjoint by rows
// in elimination order, then its forward substitution's in reverse), each a scaled row
// of the factors added to y, which vectorizes as the factorization's updates do.
void transpose_solve_dense(std::uint32_t r, const double* matrix, const double* inverse, const std::uint32_t* extent,
                           double* y);

}  // namespace phasic
