#include "zone/loader.h"

#include <ldns/ldns.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::zone {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
struct RrFree {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
struct RdfFree {
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
struct BufferFree {
  void operator()(ldns_buffer* b) const { ldns_buffer_free(b); }
};
using UniqueFile = std::unique_ptr<FILE, FileCloser>;
using UniqueRr = std::unique_ptr<ldns_rr, RrFree>;
using UniqueRdf = std::unique_ptr<ldns_rdf, RdfFree>;

std::string_view rdf_bytes(const ldns_rdf* rdf) {
  return {reinterpret_cast<const char*>(ldns_rdf_data(rdf)), ldns_rdf_size(rdf)};
}

absl::Status error_at(const std::string& source, int line, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(source, ":", line, ": ", message));
}

std::string type_name(uint16_t type) {
  char* text = ldns_rr_type2str(static_cast<ldns_rr_type>(type));
  std::string out = text ? text : absl::StrCat("TYPE", type);
  free(text);
  return out;
}

// Adds one parsed record to the zone, enforcing the rules a zone must keep.
absl::Status add_record(Zone& zone, const ldns_rr* rr, ldns_buffer* scratch) {
  const uint16_t type = ldns_rr_get_type(rr);
  if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) return absl::InvalidArgumentError("only class IN is served");
  if (type == wire::rrtype::DNAME) return absl::InvalidArgumentError("DNAME records are not supported");
  if (type == wire::rrtype::OPT || type == wire::rrtype::TSIG || type == wire::rrtype::TKEY ||
      (type >= wire::rrtype::IXFR && type <= wire::rrtype::ANY)) {
    return absl::InvalidArgumentError(absl::StrCat(type_name(type), " cannot appear in a zone"));
  }
  const std::string_view owner = rdf_bytes(ldns_rr_owner(rr));
  const std::string lower = wire::lower_copy(owner);
  if (!wire::is_subdomain(lower, zone.apex())) {
    return absl::InvalidArgumentError(absl::StrCat("owner ", wire::wire_to_text(owner), " is outside the zone ",
                                                   wire::wire_to_text(zone.apex())));
  }
  if (type == wire::rrtype::SOA && lower != zone.apex()) {
    return absl::InvalidArgumentError("SOA record below the zone apex");
  }
  ldns_buffer_clear(scratch);
  for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) ldns_rdf2buffer_wire(scratch, ldns_rr_rdf(rr, i));
  if (ldns_buffer_status(scratch) != LDNS_STATUS_OK || ldns_buffer_position(scratch) > 65535) {
    return absl::InvalidArgumentError("record data too long");
  }
  std::string data(reinterpret_cast<const char*>(ldns_buffer_begin(scratch)), ldns_buffer_position(scratch));
  if (!wire::rdata_well_formed(type, data)) {
    return absl::InvalidArgumentError(absl::StrCat(type_name(type), " data does not fit the type"));
  }
  wire::canonicalize_rdata(type, data);

  Node& node = zone.get_or_add(owner);
  const bool has_cname = node.find(wire::rrtype::CNAME) != nullptr;
  const bool has_other = node.rrsets.size() > (has_cname ? 1u : 0u);
  if ((type == wire::rrtype::CNAME && has_other) || (type != wire::rrtype::CNAME && has_cname)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CNAME and other data at ", wire::wire_to_text(owner), " (RFC 1034 §3.6.2)"));
  }
  RRset& set = node.get_or_add(type, ldns_rr_ttl(rr));
  set.insert(data);
  if ((type == wire::rrtype::CNAME || type == wire::rrtype::SOA) && set.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("more than one ", type_name(type), " at ",
                                                   wire::wire_to_text(owner)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Zone>> load_from_stream(FILE* fp, const std::string& source,
                                                       const std::string& default_origin) {
  ldns_rdf* origin_raw = nullptr;
  if (ldns_str2rdf_dname(&origin_raw, default_origin.c_str()) != LDNS_STATUS_OK) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": bad origin '", default_origin, "'"));
  }
  UniqueRdf origin_guard(origin_raw);
  ldns_rdf* origin = origin_raw;
  ldns_rdf* prev = nullptr;
  uint32_t default_ttl = 3600;
  int line = 1;
  std::unique_ptr<Zone> zone;
  std::unique_ptr<ldns_buffer, BufferFree> scratch(ldns_buffer_new(512));

  absl::Status status;
  while (status.ok() && !std::feof(fp)) {
    ldns_rr* rr_raw = nullptr;
    const int line_before = line;
    const ldns_status parsed = ldns_rr_new_frm_fp_l(&rr_raw, fp, &default_ttl, &origin, &prev, &line);
    UniqueRr rr(rr_raw);
    if (parsed == LDNS_STATUS_SYNTAX_EMPTY || parsed == LDNS_STATUS_SYNTAX_TTL ||
        parsed == LDNS_STATUS_SYNTAX_ORIGIN) {
      continue;
    }
    // ldns counts the newline ending a record; report the line the record ends on.
    const int record_line = line > line_before ? line - 1 : line;
    if (parsed == LDNS_STATUS_SYNTAX_INCLUDE) {
      status = error_at(source, record_line, "$INCLUDE is not supported");
    } else if (parsed != LDNS_STATUS_OK) {
      status = error_at(source, record_line, ldns_get_errorstr_by_id(parsed));
    } else {
      if (!zone) {
        if (ldns_rr_get_type(rr.get()) != LDNS_RR_TYPE_SOA) {
          status = error_at(source, record_line, "the first record must be the zone's SOA");
          break;
        }
        const std::string_view owner = rdf_bytes(ldns_rr_owner(rr.get()));
        zone = std::make_unique<Zone>(wire::lower_copy(owner));
      }
      absl::Status added = add_record(*zone, rr.get(), scratch.get());
      if (!added.ok()) status = error_at(source, record_line, std::string(added.message()));
    }
  }
  if (prev) ldns_rdf_deep_free(prev);
  if (origin != origin_raw) {
    origin_guard.release();
    ldns_rdf_deep_free(origin);
  }
  if (!status.ok()) return status;
  if (!zone) return absl::InvalidArgumentError(absl::StrCat(source, ": no SOA record (the zone is empty)"));
  const Node* apex = zone->apex_node();
  if (apex->find(wire::rrtype::NS) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no NS record at the zone apex ",
                                                   wire::wire_to_text(zone->apex())));
  }
  zone->finish();
  return zone;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Zone>> load_zone_text(std::string_view text, const std::string& source,
                                                     const std::string& default_origin) {
  UniqueFile fp(fmemopen(const_cast<char*>(text.data()), text.size(), "r"));
  if (!fp) return absl::InternalError(absl::StrCat(source, ": ", std::strerror(errno)));
  return load_from_stream(fp.get(), source, default_origin);
}

absl::StatusOr<std::unique_ptr<Zone>> load_zone_file(const std::string& path) {
  UniqueFile fp(std::fopen(path.c_str(), "r"));
  if (!fp) return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::strerror(errno)));
  std::string origin = std::filesystem::path(path).filename().string();
  if (origin.ends_with(".zone")) origin.resize(origin.size() - 5);
  if (!origin.ends_with(".")) origin += ".";
  return load_from_stream(fp.get(), path, origin);
}

absl::StatusOr<Catalog> load_catalog(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> files;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      if (entry.path().extension() == ".zone") files.push_back(entry.path().string());
    }
    if (ec) return absl::InvalidArgumentError(absl::StrCat(path, ": ", ec.message()));
    if (files.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no *.zone files"));
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  Catalog catalog;
  for (const std::string& file : files) {
    absl::StatusOr<std::unique_ptr<Zone>> zone = load_zone_file(file);
    if (!zone.ok()) return zone.status();
    const std::string apex = wire::wire_to_text((*zone)->apex());
    if (!catalog.add(std::move(*zone))) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": zone ", apex, " is already loaded from another file"));
    }
  }
  return catalog;
}

}  // namespace epmdns::zone
