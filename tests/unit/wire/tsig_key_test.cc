#include "wire/tsig_key.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace epmdns::wire {
namespace {

const std::string kTestdata = EPMDNS_TSIG_TESTDATA;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string wire_of(std::string_view text) {
  Name name;
  EXPECT_TRUE(name.assign_text(text));
  return std::string(name.wire());
}

std::string error_of(std::string_view text) {
  absl::StatusOr<std::vector<TsigKey>> keys = parse_key_file(text, "test.conf");
  EXPECT_FALSE(keys.ok()) << text;
  return keys.ok() ? "" : std::string(keys.status().message());
}

struct KeygenCase {
  const char* file;
  const char* name;
  TsigAlgorithm algorithm;
  size_t secret_size;
};

class TsigKeygenFile : public testing::TestWithParam<KeygenCase> {};

// Files written by BIND's `tsig-keygen -a ALG NAME` (see testdata/tsig/make_fixtures.py).
TEST_P(TsigKeygenFile, ParsesAndFormatsBackByteForByte) {
  const KeygenCase& c = GetParam();
  const std::string path = kTestdata + "/" + c.file;
  absl::StatusOr<std::vector<TsigKey>> keys = load_key_file(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 1u);
  const TsigKey& key = keys->front();
  EXPECT_EQ(key.name.wire(), wire_of(c.name));
  EXPECT_EQ(key.algorithm, c.algorithm);
  EXPECT_EQ(key.secret.size(), c.secret_size);
  EXPECT_EQ(format_key_file(key), read_file(path));
}

INSTANTIATE_TEST_SUITE_P(
    Bind, TsigKeygenFile,
    testing::Values(KeygenCase{"hmac-sha1.key", "sha1-key.", TsigAlgorithm::kHmacSha1, 20},
                    KeygenCase{"hmac-sha256.key", "testkey.", TsigAlgorithm::kHmacSha256, 32},
                    KeygenCase{"hmac-sha512.key", "sha512-key.", TsigAlgorithm::kHmacSha512, 64}));

TEST(TsigKeyFile, SeveralKeysCommentsUnquotedNamesAndFreeLayout) {
  const std::string text =
      "# shell comment\n"
      "// C++ comment \"key\"\n"
      "/* block\n   comment { */ key alpha.example { algorithm \"hmac-sha1\"; secret \"AAECAw==\"; };\n"
      "key\n  \"Beta\"\n{\nalgorithm\nHMAC-SHA512\n;\nsecret\n\"  AA EC \"\n;\n}\n;"
      "key \"gamma.\"{secret \"QUJD\";algorithm hmac-sha256;/* inline */}; # trailing\n";
  absl::StatusOr<std::vector<TsigKey>> keys = parse_key_file(text, "test.conf");
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].name.wire(), wire_of("alpha.example."));
  EXPECT_EQ((*keys)[0].algorithm, TsigAlgorithm::kHmacSha1);
  EXPECT_EQ((*keys)[0].secret, std::string("\x00\x01\x02\x03", 4));
  EXPECT_EQ((*keys)[1].name.wire(), wire_of("beta."));  // stored lower-case
  EXPECT_EQ((*keys)[1].algorithm, TsigAlgorithm::kHmacSha512);
  EXPECT_EQ((*keys)[1].secret, std::string("\x00\x01\x02", 3));
  EXPECT_EQ((*keys)[2].name.wire(), wire_of("gamma."));
  EXPECT_EQ((*keys)[2].algorithm, TsigAlgorithm::kHmacSha256);
  EXPECT_EQ((*keys)[2].secret, "ABC");
}

TEST(TsigKeyFile, EmptyOrCommentOnlyTextHasNoKeys) {
  for (std::string_view text : {"", "\n\n", "# nothing\n/* at */ // all\n"}) {
    absl::StatusOr<std::vector<TsigKey>> keys = parse_key_file(text, "test.conf");
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_TRUE(keys->empty());
  }
}

TEST(TsigKeyFile, ErrorsNameTheSourceAndLine) {
  EXPECT_EQ(error_of("key k {\n algorithm hmac-sha256;\n secret \"not base64!\";\n};\n"),
            "test.conf:3: bad base64 in the secret of key \"k\"");
  EXPECT_EQ(error_of("key k {\n secret \"AAAA=\";\n algorithm hmac-sha256;\n};\n"),
            "test.conf:2: bad base64 in the secret of key \"k\"");
  EXPECT_EQ(error_of("key k {\n algorithm hmac-sha384;\n secret \"AAAA\";\n};\n"),
            "test.conf:2: unknown algorithm 'hmac-sha384' (supported: hmac-sha1, hmac-sha256, hmac-sha512)");
  EXPECT_EQ(error_of("\nkey k {\n algorithm hmac-md5;\n secret \"AAAA\";\n};\n"),
            "test.conf:3: algorithm hmac-md5 is not supported (insecure); use hmac-sha256");
  EXPECT_EQ(error_of("key k {\n algorithm hmac-sha256;\n};\n"), "test.conf:1: key \"k\" has no secret");
  EXPECT_EQ(error_of("key k { secret \"AAAA\"; };"), "test.conf:1: key \"k\" has no algorithm");
  EXPECT_EQ(error_of("key k {\n algorithm hmac-sha256;\n secret \"AAAA\";\n"),
            "test.conf:1: unterminated block for key \"k\" (missing '};')");
  EXPECT_EQ(error_of("key k { algorithm hmac-sha256; secret \"AAAA\" "),
            "test.conf:1: unterminated block for key \"k\" (missing '};')");
  EXPECT_EQ(error_of("key K { algorithm hmac-sha256; secret \"AAAA\"; };\n\n"
                     "key \"k.\" { algorithm hmac-sha1; secret \"AAAA\"; };\n"),
            "test.conf:3: duplicate key \"k.\" (first defined on line 1)");
  EXPECT_EQ(error_of("key k { algorithm hmac-sha256; secret \"AAAA\"; }\nkey j {};"),
            "test.conf:2: expected ';' after '}', found 'key'");
  EXPECT_EQ(error_of("key k { algorithm hmac-sha256; algorithm hmac-sha1; };"),
            "test.conf:1: duplicate algorithm");
  EXPECT_EQ(error_of("key k { algorithm hmac-sha256 secret \"AAAA\"; };"),
            "test.conf:1: expected ';', found 'secret'");
  EXPECT_EQ(error_of("key k {\n algorithm hmac-sha256;\n secret AAAA;\n};"),
            "test.conf:3: expected the secret as a quoted base64 string, found 'AAAA'");
  EXPECT_EQ(error_of("key k { keyid 1; };"),
            "test.conf:1: unknown key option 'keyid' (expected algorithm or secret)");
  EXPECT_EQ(error_of("options { };"), "test.conf:1: expected 'key', found 'options'");
  EXPECT_EQ(error_of("key { };"), "test.conf:1: expected a key name, found '{'");
  EXPECT_EQ(error_of("key \"a..b\" { };"), "test.conf:1: invalid key name \"a..b\"");
  EXPECT_EQ(error_of("key k algorithm"), "test.conf:1: expected '{', found 'algorithm'");
  EXPECT_EQ(error_of("\n/* never closed\n\n"), "test.conf:2: unterminated /* comment");
  EXPECT_EQ(error_of("key k {\n secret \"AAAA\n\";\n};"), "test.conf:2: unterminated quoted string");
}

TEST(TsigKeyFile, MissingFileIsAnError) {
  absl::StatusOr<std::vector<TsigKey>> keys = load_key_file("/nonexistent/tsig.key");
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(keys.status().message()), "/nonexistent/tsig.key: cannot open: No such file or directory");
}

TEST(TsigKeyFile, FormatWritesTsigKeygenLayout) {
  TsigKey key;
  ASSERT_TRUE(key.name.assign_text("update.example."));
  key.algorithm = TsigAlgorithm::kHmacSha1;
  key.secret = "ABC";
  EXPECT_EQ(format_key_file(key), "key \"update.example\" {\n\talgorithm hmac-sha1;\n\tsecret \"QUJD\";\n};\n");
}

TEST(TsigKeyGenerate, SecretAsLongAsTheDigestAndRoundTrips) {
  for (TsigAlgorithm algorithm : {TsigAlgorithm::kHmacSha1, TsigAlgorithm::kHmacSha256, TsigAlgorithm::kHmacSha512}) {
    absl::StatusOr<TsigKey> a = generate_key("Client.Example", algorithm);
    absl::StatusOr<TsigKey> b = generate_key("client.example.", algorithm);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->name.wire(), wire_of("client.example."));
    EXPECT_EQ(a->algorithm, algorithm);
    EXPECT_EQ(a->secret.size(), digest_size(algorithm));
    EXPECT_NE(a->secret, b->secret);
    absl::StatusOr<std::vector<TsigKey>> parsed = parse_key_file(format_key_file(*a), "generated");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_EQ(parsed->size(), 1u);
    EXPECT_EQ(parsed->front().name, a->name);
    EXPECT_EQ(parsed->front().algorithm, algorithm);
    EXPECT_EQ(parsed->front().secret, a->secret);
  }
  EXPECT_FALSE(generate_key("", TsigAlgorithm::kHmacSha256).ok());
  EXPECT_FALSE(generate_key("a..b", TsigAlgorithm::kHmacSha256).ok());
}

TEST(TsigAlgorithms, TextWireAndDigestSize) {
  EXPECT_EQ(algorithm_text(TsigAlgorithm::kHmacSha1), "hmac-sha1");
  EXPECT_EQ(algorithm_text(TsigAlgorithm::kHmacSha256), "hmac-sha256");
  EXPECT_EQ(algorithm_text(TsigAlgorithm::kHmacSha512), "hmac-sha512");
  EXPECT_EQ(algorithm_wire(TsigAlgorithm::kHmacSha256), wire_of("hmac-sha256."));
  EXPECT_EQ(algorithm_wire(TsigAlgorithm::kHmacSha1), wire_of("hmac-sha1."));
  EXPECT_EQ(algorithm_wire(TsigAlgorithm::kHmacSha512), wire_of("hmac-sha512."));
  EXPECT_EQ(digest_size(TsigAlgorithm::kHmacSha1), 20u);
  EXPECT_EQ(digest_size(TsigAlgorithm::kHmacSha256), 32u);
  EXPECT_EQ(digest_size(TsigAlgorithm::kHmacSha512), 64u);

  EXPECT_EQ(*algorithm_from_text("HMAC-SHA512"), TsigAlgorithm::kHmacSha512);
  EXPECT_EQ(*algorithm_from_wire(wire_of("HMAC-SHA1.")), TsigAlgorithm::kHmacSha1);
  EXPECT_FALSE(algorithm_from_wire(wire_of("hmac-md5.sig-alg.reg.int.")).has_value());
  EXPECT_FALSE(algorithm_from_wire(wire_of("hmac-sha256.example.")).has_value());
  absl::StatusOr<TsigAlgorithm> md5 = algorithm_from_text("hmac-md5");
  ASSERT_FALSE(md5.ok());
  EXPECT_EQ(std::string(md5.status().message()), "algorithm hmac-md5 is not supported (insecure); use hmac-sha256");
  EXPECT_FALSE(algorithm_from_text("hmac-sha256.").ok());
}

TEST(Keyring, FindsByLowerCaseWireNameWithStablePointers) {
  Keyring keyring;
  TsigKey key;
  ASSERT_TRUE(key.name.assign_text("Update.Example."));
  key.secret = "s";
  ASSERT_TRUE(keyring.add(key));
  EXPECT_FALSE(keyring.add(key));  // same name
  const TsigKey* found = keyring.find(wire_of("update.example."));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name.wire(), wire_of("update.example."));
  EXPECT_EQ(keyring.find(wire_of("Update.Example.")), nullptr);  // callers pass lower case
  EXPECT_EQ(keyring.find(wire_of("other.example.")), nullptr);
  for (int i = 0; i < 1000; ++i) {
    TsigKey more;
    std::string name = "k";
    name += std::to_string(i) + ".";
    ASSERT_TRUE(more.name.assign_text(name));
    ASSERT_TRUE(keyring.add(more));
  }
  EXPECT_EQ(keyring.size(), 1001u);
  EXPECT_EQ(keyring.find(wire_of("update.example.")), found);
}

}  // namespace
}  // namespace epmdns::wire
