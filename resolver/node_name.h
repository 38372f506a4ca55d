// From "name@host" and host names to the DNS names of the epmdns layout (README table).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "wire/name.h"

namespace epmdns::resolver {

// Wire form of a host: a host without a dot is relative to `domain`; one with a dot is
// absolute (a trailing dot is optional). Lower-cased. nullopt if it cannot be a DNS name.
std::optional<wire::Name> host_name(std::string_view host, const wire::Name& domain);

// Name._erlang-dist._tcp.Host for "name@host" (lower-cased: DNS is case-insensitive).
// The node name is one label and may not contain a dot.
std::optional<wire::Name> instance_name(std::string_view node, const wire::Name& domain);
// The same in wire form (lower-case, root label included), without building a wire::Name:
// the cache key of a node lookup.
std::optional<std::string> instance_wire(std::string_view node, const wire::Name& domain);

// _erlang-dist._tcp.Host, the browse name of a host or of a zone.
std::optional<wire::Name> browse_name(std::string_view host, const wire::Name& domain);

// The inverse for answers: the node name (first label) and host (text, no trailing dot) of
// an instance name Name._erlang-dist._tcp.Host; nullopt if it is not laid out so.
struct InstanceParts {
  std::string name;
  std::string host;
};
std::optional<InstanceParts> split_instance(const wire::Name& instance);

// The domain option as a wire name ("erl.internal." by default); nullopt if malformed.
std::optional<wire::Name> domain_name(std::string_view text);

}  // namespace epmdns::resolver
