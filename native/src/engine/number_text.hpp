// The text of a number in a message to the modeller.
//
// Invariant: the shortest text that reads back as the same double (1e-20, not
// 9.9999999999999995e-21: what the caller wrote), "NaN" and "±Infinity" as the
// protocol spells them.
#pragma once

#include <string>

namespace phasic {

std::string shortest_text(double x);

}  // namespace phasic
