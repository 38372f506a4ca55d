// What the I/O threads hand requests to: the zones (read under a shared lock) for queries,
// the updater for UPDATE messages, and the zone transfer layer for AXFR/IXFR over TCP.
#pragma once

#include <cstdint>
#include <span>

#include "query/respond.h"
#include "update/updater.h"
#include "wire/types.h"
#include "xfr/transfer.h"
#include "zone/catalog.h"
#include "zone/rw_lock.h"

namespace epmdns::net {

struct Services {
  const zone::Catalog& catalog;
  zone::RwLock& lock;
  update::Updater* updater;  // null when updates are off: UPDATE is then refused
  const wire::Keyring* keyring;  // for TSIG-signed queries
  query::Limits limits;
  const xfr::TransferServices* transfers = nullptr;  // AXFR/IXFR over TCP; null: refused

  bool is_update(std::span<const uint8_t> request) const {
    return updater != nullptr && request.size() >= wire::kHeaderSize &&
           ((request[2] >> 3) & 0xF) == wire::opcode::UPDATE && (request[2] & 0x80) == 0;
  }
};

}  // namespace epmdns::net
