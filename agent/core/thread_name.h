// Names the calling thread (as `top -H`, `ps -L`, gdb and perf show it), so
// that an operator can tell the sync pool from the HTTP server or a
// receiver's sender. Linux keeps 15 bytes; longer names are cut.
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace linkwatch {

inline void NameThisThread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace linkwatch
