// What each fuzz target provides: the libFuzzer entry point, plus seeds and dictionary
// tokens that fuzz_replay_main.cc mutates when the target runs without libFuzzer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace epmdns::fuzz {

const char* target_name();
std::vector<std::string> seeds();
std::vector<std::string> dictionary();

}  // namespace epmdns::fuzz

// An invariant of the code under test; a violation aborts like a sanitizer finding.
#define FUZZ_CHECK(condition)                                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
