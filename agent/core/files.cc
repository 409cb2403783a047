#include "agent/core/files.h"

#include <unistd.h>

#include <memory>
#include <vector>

namespace linkwatch {

bool IsSafeFileName(std::string_view name) {
  if (name.empty() || name[0] == '.') return false;
  for (char c : name) {
    if (c == '/' || c == '\\' || c == '\0') return false;
  }
  return true;
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteFileAtomic(Env& env, const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    auto f = env.OpenWritable(tmp, Env::WriteMode::kCreateTruncate);
    if (!f) return f.status();
    if (auto s = (*f)->Append(content); !s.ok()) return s;
    if (auto s = (*f)->Sync(); !s.ok()) return s;
  }
  if (auto s = env.Rename(tmp, path); !s.ok()) {
    (void)env.RemoveFile(tmp);
    return Status::Error("cannot rename to " + path + ": " + s.message());
  }
  return env.SyncDir(ParentDir(path));
}

Status WriteFileAtomic(const std::string& path, std::string_view content) {
  return WriteFileAtomic(Env::Default(), path, content);
}

Status CreateDirsDurably(Env& env, const std::string& path) {
  // The folders that are missing, outermost first.
  std::vector<std::string> missing;
  for (std::string p = path; !p.empty() && p != "/" && p != ".";) {
    auto info = env.Stat(p);
    if (!info) return info.status();
    if (*info) break;
    missing.insert(missing.begin(), p);
    const std::string parent = ParentDir(p);
    if (parent == p) break;
    p = parent;
  }
  if (missing.empty()) return Status::Ok();
  if (auto s = env.CreateDirs(path); !s.ok()) return s;
  for (const auto& dir : missing) {
    if (auto s = env.SyncDir(ParentDir(dir)); !s.ok()) return s;
  }
  return Status::Ok();
}

Status CopyFileSynced(Env& env, const std::string& from, const std::string& to) {
  auto in = env.MapFile(from);
  if (!in) return in.status();
  auto out = env.OpenWritable(to, Env::WriteMode::kCreateTruncate);
  if (!out) return out.status();
  if (auto s = (*out)->Append(in->view()); !s.ok()) return s;
  return (*out)->Sync();
}

Result<std::string> ReadFile(const std::string& path) { return Env::Default().ReadFile(path); }

}  // namespace linkwatch
