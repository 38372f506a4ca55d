// Names the calling thread (up to 15 characters), so `top -H` and perf show what it does.
#pragma once

#include <pthread.h>

namespace epmdns {

inline void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace epmdns
