// CRC-32C (Castagnoli), the checksum of journal and snapshot entries.
#pragma once

#include <cstdint>
#include <string_view>

namespace epmdns {

// With the CPU's CRC32 instruction where it has one.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);
// Table-driven; what crc32c() falls back to. Exposed so tests can compare the two.
uint32_t crc32c_portable(std::string_view data, uint32_t crc = 0);

}  // namespace epmdns
