// A fresh, empty folder per test under the system's temporary folder, named
// after the test (and the process, so parallel runs do not meet).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

namespace linkwatch::fakes {

// <tmp>/<prefix>_<pid>_<test name>, created empty.
inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');
  const auto dir = std::filesystem::temp_directory_path() /
                   (prefix + "_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace linkwatch::fakes
