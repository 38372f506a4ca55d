// CRC-32C (Castagnoli), the checksum of journal and snapshot entries.
#pragma once

#include <cstdint>
#include <string_view>

namespace epmdns {

uint32_t crc32c(std::string_view data, uint32_t crc = 0);

}  // namespace epmdns
