#include "wire/name.h"

#include <cstdio>
#include <cstring>

namespace epmdns::wire {

void lower_into(std::string_view in, char* out) {
  size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, in.data() + i, 8);
    word = ascii_lower_word(word);
    std::memcpy(out + i, &word, 8);
  }
  for (; i < in.size(); ++i) out[i] = ascii_lower(in[i]);
}

std::string lower_copy(std::string_view in) {
  std::string out(in.size(), '\0');
  lower_into(in, out.data());
  return out;
}

bool equal_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

size_t wire_name_length(std::string_view wire) {
  size_t pos = 0;
  while (pos < wire.size() && pos < kMaxNameLength) {
    const auto len = static_cast<uint8_t>(wire[pos]);
    if (len == 0) return pos + 1;
    if (len > kMaxLabelLength) return 0;
    pos += 1 + len;
  }
  return 0;
}

bool is_subdomain(std::string_view name, std::string_view zone) {
  size_t pos = 0;
  while (pos < name.size()) {
    if (name.size() - pos == zone.size()) return name.substr(pos) == zone;
    if (name.size() - pos < zone.size()) return false;
    pos += 1 + static_cast<uint8_t>(name[pos]);
  }
  return false;
}

bool Name::index_labels() {
  size_t pos = 0;
  label_count_ = 0;
  while (true) {
    if (pos >= length_) return false;
    const uint8_t len = wire_[pos];
    if (len == 0) return pos + 1 == length_;
    if (len > kMaxLabelLength || label_count_ >= kMaxLabels) return false;
    label_offsets_[label_count_++] = static_cast<uint8_t>(pos);
    pos += 1 + len;
  }
}

bool Name::assign_wire(std::string_view wire) {
  if (wire.empty() || wire.size() > kMaxNameLength) return false;
  std::memcpy(wire_.data(), wire.data(), wire.size());
  length_ = static_cast<uint8_t>(wire.size());
  return index_labels();
}

bool Name::assign_text(std::string_view text, const Name* origin) {
  if (text == "@") {
    if (origin == nullptr) return false;
    *this = *origin;
    return true;
  }
  if (text.empty()) return false;
  if (text == ".") return assign_wire(std::string_view("\0", 1));
  std::array<uint8_t, kMaxNameLength + 1> out{};
  size_t pos = 0, label_start = 0, label_len = 0;
  bool absolute = false;
  auto put = [&](uint8_t c) {
    if (pos + 1 >= out.size() || label_len == kMaxLabelLength) return false;
    out[1 + pos++] = c;
    ++label_len;
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (label_len == 0) return false;
      out[label_start] = static_cast<uint8_t>(label_len);
      label_start = ++pos;
      label_len = 0;
      if (i + 1 == text.size()) absolute = true;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) return false;
      if (text[i + 1] >= '0' && text[i + 1] <= '9') {
        if (i + 3 >= text.size()) return false;
        int v = 0;
        for (int k = 1; k <= 3; ++k) {
          const char d = text[i + k];
          if (d < '0' || d > '9') return false;
          v = v * 10 + (d - '0');
        }
        if (v > 255 || !put(static_cast<uint8_t>(v))) return false;
        i += 3;
      } else {
        if (!put(static_cast<uint8_t>(text[++i]))) return false;
      }
      continue;
    }
    if (!put(static_cast<uint8_t>(c))) return false;
  }
  if (label_len > 0) {
    out[label_start] = static_cast<uint8_t>(label_len);
    pos++;
  }
  // `pos` now counts label bytes plus length octets of the written labels.
  std::string wire(reinterpret_cast<const char*>(out.data()), pos);
  if (absolute || origin == nullptr) {
    wire.push_back('\0');
  } else {
    wire.append(origin->wire());
  }
  return assign_wire(wire);
}

void Name::to_lower() {
  char* bytes = reinterpret_cast<char*>(wire_.data());
  lower_into(std::string_view(bytes, length_), bytes);
}

std::string wire_to_text(std::string_view wire) {
  std::string text;
  size_t pos = 0;
  while (pos < wire.size()) {
    const auto len = static_cast<uint8_t>(wire[pos]);
    if (len == 0) break;
    for (size_t i = 1; i <= len && pos + i < wire.size(); ++i) {
      const auto c = static_cast<unsigned char>(wire[pos + i]);
      if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' || c == '$') {
        text.push_back('\\');
        text.push_back(static_cast<char>(c));
      } else if (c <= 0x20 || c >= 0x7f) {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\%03u", c);
        text.append(buf);
      } else {
        text.push_back(static_cast<char>(c));
      }
    }
    text.push_back('.');
    pos += 1 + len;
  }
  return text.empty() ? "." : text;
}

std::string Name::to_text() const { return wire_to_text(wire()); }

bool read_name(Reader& reader, Name& out) {
  const auto packet = reader.data();
  size_t pos = reader.pos();
  size_t resume = 0;           // where the reader continues after the first pointer
  size_t lowest = pos;         // pointers must go strictly below every position visited
  size_t length = 0;
  out.label_count_ = 0;
  while (true) {
    if (pos >= packet.size()) return false;
    const uint8_t len = packet[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= packet.size()) return false;
      const size_t target = static_cast<size_t>(len & 0x3F) << 8 | packet[pos + 1];
      if (target >= lowest) return false;  // forward pointer or loop
      if (target < reader.lowest_pointer()) return false;  // into a message's header
      if (resume == 0) resume = pos + 2;
      lowest = target;
      pos = target;
      continue;
    }
    if ((len & 0xC0) != 0) return false;  // extended label types are obsolete
    if (length + 1 + len > kMaxNameLength) return false;
    if (pos + 1 + len > packet.size()) return false;
    if (len == 0) {
      out.wire_[length++] = 0;
      out.length_ = static_cast<uint8_t>(length);
      return reader.seek(resume != 0 ? resume : pos + 1);
    }
    if (out.label_count_ >= kMaxLabels) return false;
    out.label_offsets_[out.label_count_++] = static_cast<uint8_t>(length);
    std::memcpy(&out.wire_[length], &packet[pos], 1 + len);
    length += 1 + len;
    pos += 1 + len;
  }
}

}  // namespace epmdns::wire
