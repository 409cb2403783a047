#include "agent/sync/destinations/lake_location.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/core/files.h"

namespace linkwatch::sync::lake {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The table folder an entity's partitions live in: "account" for both
// "account" and its snapshot entity "account_partitioned".
std::string TableOf(const std::string& entity) {
  constexpr std::string_view kSnapshot = "_partitioned";
  if (entity.size() > kSnapshot.size() && entity.ends_with(kSnapshot)) {
    return entity.substr(0, entity.size() - kSnapshot.size());
  }
  return entity;
}

}  // namespace

std::string AbsoluteFolder(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) p = path;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string FileUri(const std::string& path) {
  const std::string abs = path.starts_with('/') ? path : AbsoluteFolder(path);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "file://";
  out.reserve(out.size() + abs.size() + 16);
  for (const char ch : abs) {
    const auto c = static_cast<unsigned char>(ch);
    if (Unreserved(c) || c == '/') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> PathOfFileUri(std::string_view uri) {
  std::string_view rest;
  if (uri.starts_with("file:///")) {
    rest = uri.substr(7);
  } else if (uri.starts_with("file://localhost/")) {
    rest = uri.substr(16);
  } else {
    return std::nullopt;
  }
  std::string out;
  out.reserve(rest.size());
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] != '%') {
      out += rest[i];
      continue;
    }
    const int hi = i + 1 < rest.size() ? HexDigit(rest[i + 1]) : -1;
    const int lo = i + 2 < rest.size() ? HexDigit(rest[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

Result<std::vector<Relocation>> RelocateLake(const std::string& folder_in, Env& env) {
  const std::string folder = AbsoluteFolder(folder_in);
  const std::string model_path = folder + "/model.json";
  auto is_file = [&](const std::string& path) {
    auto info = env.Stat(path);
    return info.ok() && *info && (*info)->is_regular;
  };
  if (!is_file(model_path)) {
    return Status::Error(model_path + " does not exist: " + folder_in +
                         " is not a lake folder (nothing changed)");
  }
  // Held while model.json is rewritten: the lock LakeDestination::Open takes.
  auto lock = env.LockFile(folder + "/" + kLakeLockFile);
  if (!lock) {
    if (lock.status().reason() != "locked") return lock.status();
    return Status::Error("lake folder " + folder +
                         " is in use by a running linkwatch process; stop it first");
  }
  auto text = env.ReadFile(model_path);
  if (!text) return text.status();
  json model = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (model.is_discarded() || !model.is_object() || !model.contains("entities") ||
      !model["entities"].is_array()) {
    return Status::Error(model_path +
                         " is not a readable CDM manifest (invalid JSON or no \"entities\" "
                         "array); nothing changed");
  }
  // The lake's earlier folder, found from the first absolute location that
  // names its entity's table folder; every other absolute location must lie
  // under it too.
  std::optional<std::string> old_root;
  std::vector<Relocation> changes;
  for (auto& entity : model["entities"]) {
    if (!entity.is_object() || !entity.contains("partitions") || !entity["partitions"].is_array()) {
      continue;
    }
    const std::string name = entity.value("name", std::string());
    for (auto& partition : entity["partitions"]) {
      if (!partition.is_object() || !partition.contains("location") ||
          !partition["location"].is_string()) {
        continue;
      }
      const std::string location = partition["location"].get<std::string>();
      const std::string where = "entity " + name + ", partition " +
                                partition.value("name", std::string()) + ": location \"" +
                                location + "\"";
      std::string relative;
      if (auto path = PathOfFileUri(location)) {
        if (!old_root) {
          const std::string marker = "/" + TableOf(name) + "/";
          const size_t at = path->rfind(marker);
          if (at == std::string::npos) {
            return Status::Error(where + " does not name a file in the table folder " +
                                 TableOf(name) + "; cannot map it into " + folder +
                                 " (nothing changed)");
          }
          old_root = path->substr(0, at);
        }
        if (!path->starts_with(*old_root + "/")) {
          return Status::Error(where + " is not inside the lake's earlier folder " + *old_root +
                               "; cannot map it into " + folder + " (nothing changed)");
        }
        relative = path->substr(old_root->size() + 1);
      } else if (location.find("://") != std::string::npos || location.find(':') == 1 ||
                 location.starts_with('/')) {
        return Status::Error(where + " is not a local file URI; cannot map it into " + folder +
                             " (nothing changed)");
      } else {
        relative = location;  // an older lake's location, relative to the lake
      }
      const fs::path normal = fs::path(relative).lexically_normal();
      if (normal.empty() || normal.is_absolute() || *normal.begin() == "..") {
        return Status::Error(where + " leaves the lake folder (nothing changed)");
      }
      const std::string target = folder + "/" + normal.string();
      if (!is_file(target)) {
        return Status::Error(where + " maps to " + target + ", which does not exist; is " +
                             folder_in + " the moved lake? (nothing changed)");
      }
      const std::string uri = FileUri(target);
      if (uri != location) {
        changes.push_back({name, partition.value("name", std::string()), location, uri});
        partition["location"] = uri;
      }
    }
  }
  if (!changes.empty()) {
    // WriteFileAtomic fsyncs the folder after the rename.
    if (auto s = WriteFileAtomic(env, model_path, model.dump(2)); !s.ok()) return s;
  }
  return changes;
}

}  // namespace linkwatch::sync::lake
