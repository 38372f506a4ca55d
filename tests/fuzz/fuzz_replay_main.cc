// Runs a fuzz target without libFuzzer, so that it builds with any compiler and runs in ctest:
// over the files (or directories of files) named on the command line, else over the target's
// seeds and a deterministic series of their mutations. A crash or sanitizer report fails the run;
// nothing is timed.
//
//   TARGET_replay [--iterations=N] [--seed=N] [--max-size=N] [--write-seeds=DIR] [--write-dict=FILE] [PATH...]
//
// --write-seeds and --write-dict export the seeds and dictionary for the libFuzzer binary
// (TARGET CORPUS_DIR -dict=FILE).
// On a crash the input is saved as TARGET-crash in the working directory; pass it back as PATH.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_target.h"

// Set by the sanitizer runtimes when linked in; lets us save the input before they exit.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

// The input being run, for the crash handlers (which may only make async-signal-safe calls).
const std::string* g_current_input = nullptr;
char g_crash_path[256];

void save_current_input() {
  static volatile sig_atomic_t saved = 0;
  if (saved || g_current_input == nullptr) return;
  saved = 1;
  const int fd = open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  const char* data = g_current_input->data();
  size_t left = g_current_input->size();
  while (left > 0) {
    const ssize_t n = write(fd, data, left);
    if (n <= 0) break;
    data += n;
    left -= static_cast<size_t>(n);
  }
  close(fd);
  const char note[] = "fuzz_replay: crashing input saved to ";
  [[maybe_unused]] ssize_t ignored = write(STDERR_FILENO, note, sizeof note - 1);
  ignored = write(STDERR_FILENO, g_crash_path, std::strlen(g_crash_path));
  ignored = write(STDERR_FILENO, "\n", 1);
}

void on_fatal_signal(int signal) {
  save_current_input();
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void install_crash_handlers(const char* name) {
  std::snprintf(g_crash_path, sizeof g_crash_path, "%s-crash", name);
  for (int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(signal, on_fatal_signal);
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(save_current_input);
}

// SplitMix64: small, fast and the same on every platform.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }

 private:
  uint64_t state_;
};

struct Options {
  size_t iterations = 50000;
  bool iterations_given = false;
  uint64_t seed = 1;
  size_t max_size = 4096;
  std::string write_seeds;
  std::string write_dict;
  std::vector<std::string> paths;
};

void run(const std::string& input) {
  g_current_input = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

constexpr uint8_t kInterestingBytes[] = {0x00, 0x01, 0x0C, 0x20, 0x29, 0x3F, 0x40, 0x7F,
                                         0x80, 0xBF, 0xC0, 0xFE, 0xFF, '.', '\\', '\n'};
constexpr uint16_t kInterestingWords[] = {0x0000, 0x0001, 0x0002, 0x00FF, 0x0100, 0x0200,
                                          0x7FFF, 0x8000, 0xC00C, 0xFFFF, 41, 250};

// One random edit of `data`: bit flips, byte values, insertions, deletions, copies,
// dictionary tokens and splices with another seed.
void mutate_once(std::string& data, const std::vector<std::string>& seeds, const std::vector<std::string>& dictionary,
                 Random& random) {
  const size_t size = data.size();
  const size_t at = random.below(size + 1);
  switch (random.below(11)) {
    case 0:
      if (size) data[random.below(size)] ^= static_cast<char>(1u << random.below(8));
      break;
    case 1:
      if (size) data[random.below(size)] = static_cast<char>(random.next());
      break;
    case 2:
      if (size) {
        data[random.below(size)] = static_cast<char>(kInterestingBytes[random.below(std::size(kInterestingBytes))]);
      }
      break;
    case 3:
      data.insert(at, 1 + random.below(4), static_cast<char>(random.next()));
      break;
    case 4:
      if (size) data.erase(random.below(size), 1 + random.below(8));
      break;
    case 5:
      if (size) {
        const size_t from = random.below(size);
        data.insert(at, data.substr(from, 1 + random.below(16)));
      }
      break;
    case 6:
      data.resize(random.below(size + 1));
      break;
    case 7:
      if (size >= 2) {
        const uint16_t word = kInterestingWords[random.below(std::size(kInterestingWords))];
        const size_t pos = random.below(size - 1);
        data[pos] = static_cast<char>(word >> 8);
        data[pos + 1] = static_cast<char>(word);
      }
      break;
    case 8:
      if (!dictionary.empty()) data.insert(at, dictionary[random.below(dictionary.size())]);
      break;
    case 9:
      if (!dictionary.empty() && size) {
        const std::string& token = dictionary[random.below(dictionary.size())];
        data.replace(random.below(size), token.size(), token);
      }
      break;
    default:
      if (!seeds.empty()) {
        const std::string& other = seeds[random.below(seeds.size())];
        data = data.substr(0, at) + other.substr(random.below(other.size() + 1));
      }
      break;
  }
}

void collect_files(const std::string& path, std::vector<std::string>& files) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path, ec)) {
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    }
  } else {
    files.push_back(path);
  }
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

// A dictionary in libFuzzer's format: one quoted token per line, bytes escaped as \xNN.
void write_dictionary(const std::string& path, const std::vector<std::string>& tokens) {
  std::ofstream out(path);
  for (const std::string& token : tokens) {
    out << '"';
    for (unsigned char c : token) {
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
        char escaped[5];
        std::snprintf(escaped, sizeof escaped, "\\x%02X", c);
        out << escaped;
      } else {
        out << static_cast<char>(c);
      }
    }
    out << "\"\n";
  }
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view flag) { return std::string(arg.substr(flag.size())); };
    if (arg.starts_with("--iterations=")) {
      options.iterations = std::strtoull(value("--iterations=").c_str(), nullptr, 10);
      options.iterations_given = true;
    } else if (arg.starts_with("--seed=")) {
      options.seed = std::strtoull(value("--seed=").c_str(), nullptr, 10);
    } else if (arg.starts_with("--max-size=")) {
      options.max_size = std::strtoull(value("--max-size=").c_str(), nullptr, 10);
    } else if (arg.starts_with("--write-seeds=")) {
      options.write_seeds = value("--write-seeds=");
    } else if (arg.starts_with("--write-dict=")) {
      options.write_dict = value("--write-dict=");
    } else if (arg.starts_with("-")) {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return false;
    } else {
      options.paths.emplace_back(arg);
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: %s [--iterations=N] [--seed=N] [--max-size=N] [--write-seeds=DIR] [--write-dict=FILE] "
                 "[PATH...]\n",
                 argv[0]);
    return 2;
  }
  const char* name = epmdns::fuzz::target_name();
  install_crash_handlers(name);
  const std::vector<std::string> seeds = epmdns::fuzz::seeds();

  if (!options.write_seeds.empty() || !options.write_dict.empty()) {  // for the libFuzzer binary
    if (!options.write_seeds.empty()) {
      std::filesystem::create_directories(options.write_seeds);
      for (size_t i = 0; i < seeds.size(); ++i) {
        std::ofstream(options.write_seeds + "/seed-" + std::to_string(i), std::ios::binary) << seeds[i];
      }
      std::printf("%s: wrote %zu seeds to %s\n", name, seeds.size(), options.write_seeds.c_str());
    }
    if (!options.write_dict.empty()) {
      write_dictionary(options.write_dict, epmdns::fuzz::dictionary());
      std::printf("%s: wrote the dictionary to %s\n", name, options.write_dict.c_str());
    }
    return 0;
  }

  std::vector<std::string> files;
  for (const std::string& path : options.paths) collect_files(path, files);
  for (const std::string& file : files) {
    std::string input;
    if (!read_file(file, input)) {
      std::fprintf(stderr, "%s: cannot read %s\n", name, file.c_str());
      return 2;
    }
    run(input);
  }
  if (!files.empty() && !options.iterations_given) {
    std::printf("%s: %zu files ran\n", name, files.size());
    return 0;
  }

  const std::vector<std::string> dictionary = epmdns::fuzz::dictionary();
  for (const std::string& seed : seeds) run(seed);
  Random random(options.seed);
  std::string previous;
  for (size_t i = 0; i < options.iterations; ++i) {
    // Mostly start afresh from a seed; sometimes keep mutating the last input.
    std::string input = (i > 0 && random.below(4) == 0) ? previous : seeds[random.below(seeds.size())];
    for (size_t edits = 1 + random.below(4); edits > 0; --edits) mutate_once(input, seeds, dictionary, random);
    if (input.size() > options.max_size) input.resize(options.max_size);
    run(input);
    previous = std::move(input);
  }
  std::printf("%s: %zu files, %zu seeds and %zu mutations ran (seed %llu)\n", name, files.size(), seeds.size(),
              options.iterations, static_cast<unsigned long long>(options.seed));
  return 0;
}
