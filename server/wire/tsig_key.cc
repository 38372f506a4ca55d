#include "wire/tsig_key.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace epmdns::wire {

namespace {

struct AlgorithmInfo {
  TsigAlgorithm algorithm;
  std::string_view text;
  std::string_view wire;
  size_t digest_size;
};

constexpr AlgorithmInfo kAlgorithms[] = {
    {TsigAlgorithm::kHmacSha1, "hmac-sha1", {"\x09hmac-sha1\x00", 11}, 20},
    {TsigAlgorithm::kHmacSha256, "hmac-sha256", {"\x0bhmac-sha256\x00", 13}, 32},
    {TsigAlgorithm::kHmacSha512, "hmac-sha512", {"\x0bhmac-sha512\x00", 13}, 64},
};

const AlgorithmInfo& info(TsigAlgorithm algorithm) {
  for (const AlgorithmInfo& a : kAlgorithms)
    if (a.algorithm == algorithm) return a;
  return kAlgorithms[1];
}

absl::string_view to_absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Strict base64: whitespace ignored, length a multiple of 4, padding only at the end.
bool decode_base64(std::string_view text, std::string& out) {
  std::string clean;
  for (char c : text)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') clean.push_back(c);
  if (clean.empty() || clean.size() % 4 != 0) return false;
  size_t padding = 0;
  while (padding < 2 && clean[clean.size() - 1 - padding] == '=') ++padding;
  for (size_t i = 0; i < clean.size() - padding; ++i) {
    const char c = clean[i];
    const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                          c == '+' || c == '/';
    if (!alphabet) return false;
  }
  const bool decoded = absl::Base64Unescape(to_absl(clean), &out);
  OPENSSL_cleanse(clean.data(), clean.size());
  return decoded;
}

struct Token {
  enum Kind { kEnd, kWord, kString, kOpen, kClose, kSemicolon };
  Kind kind = kEnd;
  std::string text;
  int line = 1;
};

// Splits BIND configuration text into words, quoted strings and punctuation.
class Lexer {
 public:
  Lexer(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  absl::Status error(int line, const std::string& message) const {
    return absl::InvalidArgumentError(source_ + ":" + std::to_string(line) + ": " + message);
  }

  absl::Status next(Token& out) {
    if (absl::Status s = skip_space_and_comments(); !s.ok()) return s;
    out.line = line_;
    out.text.clear();
    if (pos_ >= text_.size()) {
      out.kind = Token::kEnd;
      return absl::OkStatus();
    }
    const char c = text_[pos_];
    if (c == '{' || c == '}' || c == ';') {
      out.kind = c == '{' ? Token::kOpen : c == '}' ? Token::kClose : Token::kSemicolon;
      out.text = std::string(1, c);
      ++pos_;
      return absl::OkStatus();
    }
    if (c == '"') return quoted(out);
    out.kind = Token::kWord;
    while (pos_ < text_.size() && !ends_word()) out.text.push_back(text_[pos_++]);
    return absl::OkStatus();
  }

 private:
  bool at(std::string_view s) const { return text_.substr(pos_, s.size()) == s; }

  bool ends_word() const {
    const char c = text_[pos_];
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{' || c == '}' || c == ';' ||
           c == '"' || c == '#' || at("//") || at("/*");
  }

  absl::Status skip_space_and_comments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#' || at("//")) {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (at("/*")) {
        const int start = line_;
        pos_ += 2;
        while (pos_ < text_.size() && !at("*/")) {
          if (text_[pos_] == '\n') ++line_;
          ++pos_;
        }
        if (pos_ >= text_.size()) return error(start, "unterminated /* comment");
        pos_ += 2;
      } else {
        break;
      }
    }
    return absl::OkStatus();
  }

  // Keeps backslash escapes as written: key names resolve them in Name::assign_text.
  absl::Status quoted(Token& out) {
    out.kind = Token::kString;
    ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\n') {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] != '\n') {
        out.text.push_back(text_[pos_++]);
      }
      out.text.push_back(text_[pos_++]);
    }
    if (pos_ >= text_.size() || text_[pos_] != '"') return error(out.line, "unterminated quoted string");
    ++pos_;
    return absl::OkStatus();
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
  int line_ = 1;
};

std::string describe(const Token& token) {
  switch (token.kind) {
    case Token::kEnd: return "end of file";
    case Token::kString: return "\"" + token.text + "\"";
    default: return "'" + token.text + "'";
  }
}

bool is_keyword(const Token& token, std::string_view keyword) {
  return token.kind == Token::kWord && equal_ignore_case(token.text, keyword);
}

// One `key` statement after another; stops at the first error.
class KeyFileParser {
 public:
  KeyFileParser(std::string_view text, const std::string& source) : lexer_(text, source) {}

  absl::StatusOr<std::vector<TsigKey>> parse() {
    std::vector<TsigKey> keys;
    std::vector<int> key_lines;
    if (absl::Status s = advance(); !s.ok()) return s;
    while (token_.kind != Token::kEnd) {
      const int key_line = token_.line;
      TsigKey key;
      if (absl::Status s = parse_key(key); !s.ok()) return s;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (keys[i].name == key.name) {
          return lexer_.error(key_line, "duplicate key \"" + written_name_ + "\" (first defined on line " +
                                            std::to_string(key_lines[i]) + ")");
        }
      }
      keys.push_back(std::move(key));
      key_lines.push_back(key_line);
    }
    return keys;
  }

 private:
  absl::Status advance() { return lexer_.next(token_); }

  // At the `key` keyword; returns with token_ after the closing `};`.
  absl::Status parse_key(TsigKey& key) {
    if (!is_keyword(token_, "key")) return lexer_.error(token_.line, "expected 'key', found " + describe(token_));
    key_line_ = token_.line;
    if (absl::Status s = advance(); !s.ok()) return s;
    if (token_.kind != Token::kWord && token_.kind != Token::kString) {
      return lexer_.error(token_.line, "expected a key name, found " + describe(token_));
    }
    written_name_ = token_.text;
    if (written_name_.empty() || !key.name.assign_text(written_name_)) {
      return lexer_.error(token_.line, "invalid key name \"" + written_name_ + "\"");
    }
    key.name.to_lower();
    if (absl::Status s = advance(); !s.ok()) return s;
    if (token_.kind != Token::kOpen) return lexer_.error(token_.line, "expected '{', found " + describe(token_));
    bool has_algorithm = false, has_secret = false;
    while (true) {
      if (absl::Status s = advance_in_block(); !s.ok()) return s;
      if (token_.kind == Token::kClose) break;
      const bool is_algorithm = is_keyword(token_, "algorithm");
      if (!is_algorithm && !is_keyword(token_, "secret")) {
        return lexer_.error(token_.line, "unknown key option " + describe(token_) + " (expected algorithm or secret)");
      }
      bool& seen = is_algorithm ? has_algorithm : has_secret;
      if (seen) return lexer_.error(token_.line, "duplicate " + token_.text);
      seen = true;
      if (absl::Status s = advance_in_block(); !s.ok()) return s;
      if (absl::Status s = is_algorithm ? parse_algorithm(key) : parse_secret(key); !s.ok()) return s;
      if (absl::Status s = advance_in_block(); !s.ok()) return s;
      if (token_.kind != Token::kSemicolon) return lexer_.error(token_.line, "expected ';', found " + describe(token_));
    }
    if (absl::Status s = advance(); !s.ok()) return s;
    if (token_.kind != Token::kSemicolon) {
      return lexer_.error(token_.line, "expected ';' after '}', found " + describe(token_));
    }
    if (!has_algorithm) return lexer_.error(key_line_, "key \"" + written_name_ + "\" has no algorithm");
    if (!has_secret) return lexer_.error(key_line_, "key \"" + written_name_ + "\" has no secret");
    return advance();
  }

  // Like advance(), but the end of the text is an unterminated block.
  absl::Status advance_in_block() {
    if (absl::Status s = advance(); !s.ok()) return s;
    if (token_.kind != Token::kEnd) return absl::OkStatus();
    return lexer_.error(key_line_, "unterminated block for key \"" + written_name_ + "\" (missing '};')");
  }

  absl::Status parse_algorithm(TsigKey& key) {
    if (token_.kind != Token::kWord && token_.kind != Token::kString) {
      return lexer_.error(token_.line, "expected an algorithm name, found " + describe(token_));
    }
    absl::StatusOr<TsigAlgorithm> algorithm = algorithm_from_text(token_.text);
    if (!algorithm.ok()) return lexer_.error(token_.line, std::string(algorithm.status().message()));
    key.algorithm = *algorithm;
    return absl::OkStatus();
  }

  absl::Status parse_secret(TsigKey& key) {
    if (token_.kind != Token::kString) {
      return lexer_.error(token_.line, "expected the secret as a quoted base64 string, found " + describe(token_));
    }
    if (!decode_base64(token_.text, key.secret)) {
      return lexer_.error(token_.line, "bad base64 in the secret of key \"" + written_name_ + "\"");
    }
    return absl::OkStatus();
  }

  Lexer lexer_;
  Token token_;
  int key_line_ = 0;
  std::string written_name_;  // the current key's name as written, for messages
};

}  // namespace

std::string_view algorithm_text(TsigAlgorithm algorithm) { return info(algorithm).text; }
std::string_view algorithm_wire(TsigAlgorithm algorithm) { return info(algorithm).wire; }
size_t digest_size(TsigAlgorithm algorithm) { return info(algorithm).digest_size; }

absl::StatusOr<TsigAlgorithm> algorithm_from_text(std::string_view text) {
  for (const AlgorithmInfo& a : kAlgorithms)
    if (equal_ignore_case(text, a.text)) return a.algorithm;
  if (equal_ignore_case(text, "hmac-md5") || equal_ignore_case(text, "hmac-md5.sig-alg.reg.int")) {
    return absl::InvalidArgumentError("algorithm hmac-md5 is not supported (insecure); use hmac-sha256");
  }
  return absl::InvalidArgumentError("unknown algorithm '" + std::string(text) +
                                    "' (supported: hmac-sha1, hmac-sha256, hmac-sha512)");
}

std::optional<TsigAlgorithm> algorithm_from_wire(std::string_view wire) {
  for (const AlgorithmInfo& a : kAlgorithms)
    if (equal_ignore_case(wire, a.wire)) return a.algorithm;
  return std::nullopt;
}

bool Keyring::add(TsigKey key) {
  key.name.to_lower();
  std::string lower(key.name.wire());
  return keys_.try_emplace(std::move(lower), std::move(key)).second;
}

const TsigKey* Keyring::find(std::string_view lower_wire) const {
  const auto it = keys_.find(to_absl(lower_wire));
  return it == keys_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::vector<TsigKey>> parse_key_file(std::string_view text, const std::string& source) {
  KeyFileParser parser(text, source);
  return parser.parse();
}

absl::StatusOr<std::vector<TsigKey>> load_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(path + ": read error");
  return parse_key_file(text.str(), path);
}

std::string format_key_file(const TsigKey& key) {
  std::string name = key.name.to_text();
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  std::string text = "key \"" + name + "\" {\n\talgorithm ";
  text.append(algorithm_text(key.algorithm));
  text += ";\n\tsecret \"" + absl::Base64Escape(to_absl(key.secret)) + "\";\n};\n";
  return text;
}

absl::StatusOr<TsigKey> generate_key(std::string_view name, TsigAlgorithm algorithm) {
  TsigKey key;
  if (name.empty() || !key.name.assign_text(name)) {
    return absl::InvalidArgumentError("invalid key name \"" + std::string(name) + "\"");
  }
  key.name.to_lower();
  key.algorithm = algorithm;
  key.secret.resize(digest_size(algorithm));
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.secret.data()), static_cast<int>(key.secret.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return key;
}

}  // namespace epmdns::wire
