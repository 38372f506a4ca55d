# The wire format library (epmdns_wire) and what it needs (epmdns_common). Included by
# server/CMakeLists.txt and by erlang_client/c_src/CMakeLists.txt, which builds the NIF
# without the daemon. Needs PkgConfig::CRYPTO and Abseil found by the includer.
set(epmdns_server_dir ${CMAKE_CURRENT_LIST_DIR})

add_library(epmdns_common STATIC ${epmdns_server_dir}/common/crc32c.cc)
target_include_directories(epmdns_common PUBLIC ${epmdns_server_dir})

# Wire format: names, messages, the packet writer, TSIG. Independent of the daemon.
add_library(epmdns_wire STATIC
  ${epmdns_server_dir}/wire/name.cc ${epmdns_server_dir}/wire/message.cc ${epmdns_server_dir}/wire/writer.cc
  ${epmdns_server_dir}/wire/rdata.cc ${epmdns_server_dir}/wire/tsig.cc ${epmdns_server_dir}/wire/tsig_key.cc)
# TSIG: HMACs and RAND_bytes from OpenSSL, key files and a keyring with Abseil.
target_link_libraries(epmdns_wire PUBLIC epmdns_common PkgConfig::CRYPTO absl::hash absl::node_hash_map
                      absl::status absl::statusor absl::strings)
