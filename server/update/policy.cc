#include "update/policy.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::update {
namespace {

using namespace wire;

constexpr std::string_view kService("\x0c_erlang-dist\x04_tcp", 18);

// Is `name` exactly "<label>._erlang-dist._tcp.<host>" (an Erlang node of that host)?
bool is_instance_of(std::string_view name, std::string_view host) {
  if (name.empty()) return false;
  const size_t first = 1 + static_cast<uint8_t>(name[0]);
  if (first > name.size()) return false;
  const std::string_view rest = name.substr(first);
  return rest.size() == kService.size() + host.size() && rest.starts_with(kService) && rest.ends_with(host);
}

std::string lower_target(uint16_t type, std::string_view rdata) {
  return lower_copy(rdata_target(type, rdata));
}

// A host key may touch: the host's own addresses and TXT; its nodes' SRV (pointing at the
// host) and TXT; PTRs to its nodes in its own browse list and in the zone's.
bool host_may_change(std::string_view host, std::string_view apex, const Record& record, std::string_view owner) {
  const bool adds_or_removes_one = record.rrclass != rrclass::ANY;
  const std::string browse = std::string(kService) + std::string(host);
  const std::string zone_browse = std::string(kService) + std::string(apex);
  switch (record.type) {
    case rrtype::A:
    case rrtype::AAAA: return owner == host;
    case rrtype::TXT: return owner == host || is_instance_of(owner, host);
    case rrtype::SRV:
      return is_instance_of(owner, host) && (!adds_or_removes_one || lower_target(rrtype::SRV, record.rdata) == host);
    case rrtype::PTR:
      if (owner == browse) return !adds_or_removes_one || is_instance_of(lower_target(rrtype::PTR, record.rdata), host);
      return owner == zone_browse && adds_or_removes_one &&
             is_instance_of(lower_target(rrtype::PTR, record.rdata), host);
    case rrtype::ANY: return owner == host || is_instance_of(owner, host);
    default: return false;
  }
}

bool read_name(std::string_view text, std::string& out) {
  Name name;
  std::string absolute(text);
  if (!absolute.ends_with(".")) absolute += ".";
  if (!name.assign_text(absolute)) return false;
  name.to_lower();
  out = std::string(name.wire());
  return true;
}

}  // namespace

absl::StatusOr<Policy> Policy::parse(std::string_view text, const std::string& source) {
  std::vector<Grant> grants;
  int line_number = 0;
  std::vector<std::string> lines = absl::StrSplit(absl::string_view(text.data(), text.size()), '\n');
  for (std::string& line : lines) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    std::vector<std::string> words = absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipWhitespace());
    if (words.empty()) continue;
    auto error = [&](const std::string& message) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_number, ": ", message));
    };
    if (words.size() != 4 || words[0] != "grant") return error("expected 'grant KEY zone ZONE' or 'grant KEY host HOST'");
    Grant grant;
    if (words[2] == "zone") {
      grant.scope = Grant::Scope::kZone;
    } else if (words[2] == "host") {
      grant.scope = Grant::Scope::kHost;
    } else {
      return error(absl::StrCat("unknown scope '", words[2], "' (zone or host)"));
    }
    if (!read_name(words[1], grant.key)) return error(absl::StrCat("bad key name '", words[1], "'"));
    if (!read_name(words[3], grant.name)) return error(absl::StrCat("bad name '", words[3], "'"));
    grants.push_back(std::move(grant));
  }
  return Policy(false, std::move(grants));
}

absl::StatusOr<Policy> Policy::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

bool Policy::permits(const wire::TsigKey* key, const zone::Zone& zone, const Request& request) const {
  if (open_ || key == nullptr) return true;
  const std::string_view key_name = key->name.wire();
  for (const Grant& grant : grants_) {
    if (grant.key != key_name) continue;
    if (grant.scope == Grant::Scope::kZone) {
      if (grant.name == zone.apex()) return true;
      continue;
    }
    bool all = true;
    for (const Record& record : request.updates) {
      all = all && host_may_change(grant.name, zone.apex(), record, record.lower_owner);
    }
    if (all) return true;
  }
  return false;
}

}  // namespace epmdns::update
