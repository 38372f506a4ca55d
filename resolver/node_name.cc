#include "resolver/node_name.h"

namespace epmdns::resolver {
namespace {

constexpr std::string_view kService = "\x0c_erlang-dist\x04_tcp";

// Erlang allows [0-9A-Za-z_-]+ as the name part of a node name.
bool is_node_name(std::string_view name) {
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool append_label(std::string& wire, std::string_view label) {
  if (label.empty() || label.size() > wire::kMaxLabelLength) return false;
  for (char c : label) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;  // no spaces or controls in a host
  }
  wire.push_back(static_cast<char>(label.size()));
  for (char c : label) wire.push_back(wire::ascii_lower(c));
  return true;
}

// Labels of `host` followed by the domain when it is short; no root label.
bool append_host(std::string& wire, std::string_view host, const wire::Name& domain) {
  if (host.empty()) return false;
  const bool absolute = host.find('.') != std::string_view::npos;
  if (host.back() == '.') host.remove_suffix(1);
  size_t pos = 0;
  while (true) {
    const size_t dot = host.find('.', pos);
    if (!append_label(wire, host.substr(pos, dot == std::string_view::npos ? dot : dot - pos))) return false;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  if (!absolute) {
    std::string_view suffix = domain.wire();
    wire.append(suffix.substr(0, suffix.size() - 1));
  }
  return true;
}

std::optional<wire::Name> finish(std::string& wire) {
  wire.push_back('\0');
  wire::Name name;
  if (wire.size() > wire::kMaxNameLength || !name.assign_wire(wire)) return std::nullopt;
  name.to_lower();
  return name;
}

}  // namespace

std::optional<wire::Name> host_name(std::string_view host, const wire::Name& domain) {
  std::string wire;
  if (!append_host(wire, host, domain)) return std::nullopt;
  return finish(wire);
}

std::optional<std::string> instance_wire(std::string_view node, const wire::Name& domain) {
  const size_t at = node.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view name = node.substr(0, at);
  if (!is_node_name(name)) return std::nullopt;
  std::string wire;
  wire.reserve(64);
  if (!append_label(wire, name)) return std::nullopt;
  wire.append(kService);
  if (!append_host(wire, node.substr(at + 1), domain)) return std::nullopt;
  wire.push_back('\0');
  if (wire.size() > wire::kMaxNameLength) return std::nullopt;
  return wire;
}

std::optional<wire::Name> instance_name(std::string_view node, const wire::Name& domain) {
  auto text = instance_wire(node, domain);
  if (!text) return std::nullopt;
  text->pop_back();  // finish() adds the root label again
  return finish(*text);
}

std::optional<wire::Name> browse_name(std::string_view host, const wire::Name& domain) {
  std::string wire(kService);
  if (!append_host(wire, host, domain)) return std::nullopt;
  return finish(wire);
}

std::optional<InstanceParts> split_instance(const wire::Name& instance) {
  if (instance.label_count() < 4) return std::nullopt;
  if (!wire::equal_ignore_case(instance.label(1), "_erlang-dist") ||
      !wire::equal_ignore_case(instance.label(2), "_tcp")) {
    return std::nullopt;
  }
  std::string host = wire::wire_to_text(instance.suffix(3));
  if (!host.empty() && host.back() == '.') host.pop_back();
  return InstanceParts{std::string(instance.label(0)), std::move(host)};
}

std::optional<wire::Name> domain_name(std::string_view text) {
  wire::Name name;
  if (text.empty()) return std::nullopt;
  std::string absolute(text);
  if (absolute.back() != '.') absolute.push_back('.');
  if (!name.assign_text(absolute)) return std::nullopt;
  name.to_lower();
  return name;
}

}  // namespace epmdns::resolver
