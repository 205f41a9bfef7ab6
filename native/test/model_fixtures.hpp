// Compiled-model JSON for the reference models, with bytecode written by hand from
// docs/compiled-model.md (the tests act as their own front end).
//
// Opcodes: CONST 0, LOAD 1, STORE 2, CELL 3, CELL_AT 4, INDEX 5, INT 6, ADD 7, SUB 8,
// MUL 9, DIV 10, MOD 11, NEG 12, EQ 13, NE 14, LT 15, LE 16, GT 17, GE 18, NOT 19,
// JUMP 20, JUMP_IF_FALSE 21, MIN 22, MAX 23, ABS 24, FLOOR 25, CEIL 26, BINOM 27,
// POP 28, DUP 29.
#pragma once

#include <string>
#include <vector>

namespace fixtures {

using Code = std::vector<long long>;

inline std::string json(const Code& code) {
  std::string s = "[";
  for (std::size_t i = 0; i < code.size(); ++i) s += (i ? "," : "") + std::to_string(code[i]);
  return s + "]";
}

inline Code cat(std::initializer_list<Code> parts) {
  Code out;
  for (const Code& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline std::string header(const std::string& name, const std::string& params, int state_length,
                          const std::string& variables, const std::string& starts) {
  return R"({"format":"phasic-compiled-model","version":1,"name":")" + name + R"(","params":)" + params +
         R"(,"stateLength":)" + std::to_string(state_length) + R"(,"variables":)" + variables + R"(,"starts":)" +
         starts;
}

// Sites used by the fixtures: 0 a rule, 1 a rate, 2 an update, 3 an index.
inline const char* kSites = R"("sites":[[3,0,3,10],[4,2,4,20],[5,2,5,9],[5,4,5,8]])";

// Kingman coalescent: one scalar k in 1..n, rate theta*k*(k-1)/2.
inline std::string kingman(int n) {
  return header("kingman", R"([{"name":"theta","default":1.0,"lo":null,"hi":null}])", 1,
                R"([{"name":"k","offset":0,"dims":[],"lo":1,"hi":)" + std::to_string(n) + "}]",
                R"([{"probability":1.0,"state":[)" + std::to_string(n) + R"(],"site":-1}])") +
         R"(,"absorb":[],"rules":[{"name":"coalesce","site":0,"locals":0,"loops":[],
      "steps":[{"when":[3,0,0,2,18],"site":-1}],
      "rate":[null,[3,0,3,0,0,1,8,9,0,2,10]],"rateSite":1,
      "updates":[{"cell":[0,0],"op":"sub","value":[0,1],"site":2}]}],
    "rewards":[{"name":"time","locals":0,"code":[0,1]},{"name":"tmrca","locals":0,"code":[0,1]},
               {"name":"total_length","locals":0,"code":[3,0]}],)" +
         kSites + "}";
}

// Rabbits on two islands (left, right in 0..N), four rules, absorbing at 0 rabbits.
inline std::string rabbits(int N) {
  const std::string n = std::to_string(N);
  return header(
             "rabbits",
             R"([{"name":"jump","default":1.0,"lo":null,"hi":null},{"name":"flood_l","default":2.0,"lo":null,"hi":null},
                    {"name":"flood_r","default":4.0,"lo":null,"hi":null}])",
             2,
             R"([{"name":"left","offset":0,"dims":[],"lo":0,"hi":)" + n +
                 R"(},{"name":"right","offset":1,"dims":[],"lo":0,"hi":)" + n + "}]",
             R"([{"probability":1.0,"state":[)" + n + R"(,0]}])") +
         R"(,"absorb":[{"locals":0,"code":[3,0,3,1,7,0,0,13],"site":-1}],
    "rules":[
      {"name":"hop_right","site":0,"locals":0,"loops":[],"steps":[{"when":[3,0,0,0,17]}],
       "rate":[null,[0,1],null,null],"rateSite":1,
       "updates":[{"cell":[0,0],"op":"sub","value":[0,1]},{"cell":[0,1],"op":"add","value":[0,1]}]},
      {"name":"hop_left","site":0,"locals":0,"loops":[],"steps":[{"when":[3,1,0,0,17]}],
       "rate":[null,[0,1],null,null],"rateSite":1,
       "updates":[{"cell":[0,1],"op":"sub","value":[0,1]},{"cell":[0,0],"op":"add","value":[0,1]}]},
      {"name":"flood_left","site":0,"locals":0,"loops":[],"steps":[{"when":[3,0,0,0,17]}],
       "rate":[null,null,[0,1],null],"rateSite":1,
       "updates":[{"cell":[0,0],"op":"set","value":[0,0]}]},
      {"name":"flood_right","site":0,"locals":0,"loops":[],"steps":[{"when":[3,1,0,0,17]}],
       "rate":[null,null,null,[0,1]],"rateSite":1,
       "updates":[{"cell":[0,1],"op":"set","value":[0,0]}]}],
    "rewards":[{"name":"time","locals":0,"code":[0,1]},{"name":"time_to_extinction","locals":0,"code":[0,1]}],)" +
         kSites + "}";
}

// Structured coalescent with n = 2 lineages in d = 2 demes (x[2] in 0..2).
inline std::string structured() {
  const Code x_i = {1, 0, 5, 2, 3, 4};  // x[i] (INDEX site 3)
  // when i != j and x[i] >= 1, short-circuited with jumps.
  const Code migrate_when = {1, 0, 1, 1, 14, 21, 18, 1, 0, 5, 2, 3, 4, 0, 1, 18, 20, 20, 0, 0};
  return header(
             "structured",
             R"([{"name":"coal","default":1.0,"lo":null,"hi":null},{"name":"mig","default":0.5,"lo":null,"hi":null}])",
             2, R"([{"name":"x","offset":0,"dims":[2],"lo":0,"hi":2}])", R"([{"probability":1.0,"state":[2,0]}])") +
         R"(,"absorb":[{"locals":0,"code":[3,0,3,1,7,0,1,16]}],
    "rules":[
      {"name":"coalesce","site":0,"locals":1,"loops":[{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]}],
       "steps":[{"when":)" +
         json(cat({x_i, {0, 2, 18}})) + R"(}],
       "rate":[null,)" +
         json(cat({x_i, x_i, {0, 1, 8, 9, 0, 2, 10}})) + R"(,null],"rateSite":1,
       "updates":[{"cell":[1,0,5,2,3],"op":"sub","value":[0,1],"site":2}]},
      {"name":"migrate","site":0,"locals":2,
       "loops":[{"name":"i","slot":0,"lo":[0,0],"hi":[0,1]},{"name":"j","slot":1,"lo":[0,0],"hi":[0,1]}],
       "steps":[{"when":)" +
         json(migrate_when) + R"(}],
       "rate":[null,null,)" +
         json(cat({x_i, {0, 1, 10}})) + R"(],"rateSite":1,
       "updates":[{"cell":[1,0,5,2,3],"op":"sub","value":[0,1],"site":2},
                  {"cell":[1,1,5,2,3],"op":"add","value":[0,1],"site":2}]}],
    "rewards":[{"name":"time","locals":0,"code":[0,1]},{"name":"tmrca","locals":0,"code":[0,1]}],)" +
         kSites + "}";
}

// Kingman coalescent tracking lineages by descendant count: s[n], two dependent loops.
inline std::string kingman_sfs(int n) {
  const long long N = n;
  const Code s_i = {1, 0, 5, N, 3, 4}, s_j = {1, 1, 5, N, 3, 4};
  // if i == j then s[i] >= 2 else s[i] >= 1 and s[j] >= 1
  const Code when = {1, 0, 1, 1, 13, 21, 18, 1,  0, 5, N, 3, 4, 0, 2, 18, 20, 42, 1,  0, 5,
                     N, 3, 4, 0, 1,  18, 21, 40, 1, 1, 5, N, 3, 4, 0, 1,  18, 20, 42, 0, 0};
  // if i == j then s[i]*(s[i]-1)/2 else s[i]*s[j]
  const Code rate = {1, 0, 1,  1,  13, 21, 23, 1, 0, 5, N, 3, 4, 29, 0, 1, 8, 9,
                     0, 2, 10, 20, 36, 1,  0,  5, N, 3, 4, 1, 1, 5,  N, 3, 4, 9};
  std::string init = "[" + std::to_string(n);
  for (int i = 1; i < n; ++i) init += ",0";
  init += "]";
  std::string rewards = R"([{"name":"time","locals":0,"code":[0,1]},{"name":"tmrca","locals":0,"code":[0,1]})";
  for (int k = 0; k + 1 < n; ++k)
    rewards += R"(,{"name":"xi[)" + std::to_string(k) + R"(]","locals":0,"code":[3,)" + std::to_string(k) + "]}";
  rewards += "]";
  return header("kingman_sfs", R"([{"name":"theta","default":1.0,"lo":null,"hi":null}])", n,
                R"([{"name":"s","offset":0,"dims":[)" + std::to_string(n) + R"(],"lo":0,"hi":null}])",
                R"([{"probability":1.0,"state":)" + init + "}]") +
         R"(,"absorb":[],"rules":[{"name":"coalesce","site":0,"locals":2,
       "loops":[{"name":"i","slot":0,"lo":[0,0],"hi":[0,)" +
         std::to_string(n - 1) + R"(]},
                {"name":"j","slot":1,"lo":[1,0],"hi":[0,)" +
         std::to_string(n - 1) + R"(]}],
       "steps":[{"when":)" +
         json(when) + R"(}],
       "rate":[null,)" +
         json(rate) + R"(],"rateSite":1,
       "updates":[{"cell":[1,0,5,)" +
         std::to_string(n) + R"(,3],"op":"sub","value":[0,1],"site":2},
                  {"cell":[1,1,5,)" +
         std::to_string(n) + R"(,3],"op":"sub","value":[0,1],"site":2},
                  {"cell":[1,0,1,1,7,0,1,7,5,)" +
         std::to_string(n) + R"(,3],"op":"add","value":[0,1],"site":2}]}],
    "rewards":)" +
         rewards + "," + kSites + "}";
}

// Two-locus ARG: c[n+1][n+1] (c[b][a] at flat index a + (n+1)*b).
inline std::string two_locus(int n) {
  const long long D = n + 1;
  auto index = [&](long long b_slot, long long a_slot) {
    return Code{1, b_slot, 5, D, 3, 0, D, 9, 1, a_slot, 5, D, 3, 7};
  };
  auto cell = [&](long long b_slot, long long a_slot) { return cat({index(b_slot, a_slot), {4}}); };
  Code sum_all = {3, 0};
  for (long long c = 1; c < D * D; ++c) sum_all.insert(sum_all.end(), {3, c, 7});
  // b2 > b1 or a2 >= a1
  const Code order = {1, 2, 1, 0, 17, 21, 11, 0, 1, 20, 16, 1, 3, 1, 1, 18};
  const Code same = {1, 1, 1, 3, 13, 1, 0, 1, 2, 13, 9};
  const Code merged = {1, 0, 1, 2, 7, 5, D, 3, 0, D, 9, 1, 1, 1, 3, 7, 5, D, 3, 7};
  const std::string dims = std::to_string(D);
  std::string init = "[";
  for (long long c = 0; c < D * D; ++c) init += std::string(c ? "," : "") + (c == D + 1 ? std::to_string(n) : "0");
  init += "]";
  return header(
             "two_locus",
             R"([{"name":"coal","default":1.0,"lo":null,"hi":null},{"name":"rec","default":1.0,"lo":null,"hi":null}])",
             int(D * D), R"([{"name":"c","offset":0,"dims":[)" + dims + "," + dims + R"(],"lo":0,"hi":null}])",
             R"([{"probability":1.0,"state":)" + init + "}]") +
         R"(,"absorb":[{"locals":0,"code":)" + json(cat({sum_all, {0, 1, 16}})) + R"(}],
    "rules":[
      {"name":"coalesce","site":0,"locals":5,
       "loops":[{"name":"b1","slot":0,"lo":[0,0],"hi":[0,)" +
         std::to_string(n) + R"(]},
                {"name":"a1","slot":1,"lo":[0,0],"hi":[0,)" +
         std::to_string(n) + R"(]},
                {"name":"b2","slot":2,"lo":[1,0],"hi":[0,)" +
         std::to_string(n) + R"(]},
                {"name":"a2","slot":3,"lo":[0,0],"hi":[0,)" +
         std::to_string(n) + R"(]}],
       "steps":[{"when":)" +
         json(order) + R"(},{"let":4,"code":)" + json(same) + R"(},
                {"when":)" +
         json(cat({cell(0, 1), {0, 1, 1, 4, 7, 18}})) + R"(},
                {"when":)" +
         json(cat({cell(2, 3), {0, 1, 18}})) + R"(}],
       "rate":[null,)" +
         json(cat({cell(0, 1), cell(2, 3), {1, 4, 8, 9, 0, 1, 1, 4, 7, 10}})) + R"(,null],"rateSite":1,
       "updates":[{"cell":)" +
         json(index(0, 1)) + R"(,"op":"sub","value":[0,1],"site":2},
                  {"cell":)" +
         json(index(2, 3)) + R"(,"op":"sub","value":[0,1],"site":2},
                  {"cell":)" +
         json(merged) + R"(,"op":"add","value":[0,1],"site":2}]},
      {"name":"recombine","site":0,"locals":2,
       "loops":[{"name":"b","slot":0,"lo":[0,1],"hi":[0,)" +
         std::to_string(n) + R"(]},
                {"name":"a","slot":1,"lo":[0,1],"hi":[0,)" +
         std::to_string(n) + R"(]}],
       "steps":[{"when":)" +
         json(cat({cell(0, 1), {0, 1, 18}})) + R"(}],
       "rate":[null,null,[0,1]],"rateSite":1,
       "updates":[{"cell":)" +
         json(index(0, 1)) + R"(,"op":"sub","value":[0,1],"site":2},
                  {"cell":[1,1],"op":"add","value":[0,1],"site":2},
                  {"cell":[1,0,0,)" +
         dims + R"(,9],"op":"add","value":[0,1],"site":2}]}],
    "rewards":[{"name":"time","locals":0,"code":[0,1]},{"name":"tmrca","locals":0,"code":[0,1]}],)" +
         kSites + "}";
}

}  // namespace fixtures
