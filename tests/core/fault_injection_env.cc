#include "tests/core/fault_injection_env.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/core/files.h"

namespace linkwatch::faults {
namespace fs = std::filesystem;

class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv& env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    std::optional<Fault> fault;
    {
      std::lock_guard<std::mutex> lock(env_.mu_);
      fault = env_.TakeFault(Op::kWrite, path());
    }
    if (!fault) return base_->Append(data);
    if (fault->keep) (void)base_->Append(data.substr(0, std::min(*fault->keep, data.size())));
    return Status::Error("cannot write " + path() + ": injected fault");
  }
  Status AppendPieces(const std::vector<std::string_view>& pieces) override {
    bool armed = false;
    {
      std::lock_guard<std::mutex> lock(env_.mu_);
      for (const auto& f : env_.faults_) {
        armed |= f.op == Op::kWrite && path().find(f.path_part) != std::string::npos;
      }
    }
    if (!armed) return base_->AppendPieces(pieces);
    std::string all;
    for (auto p : pieces) all += p;
    return Append(all);
  }
  Status Sync() override {
    {
      std::lock_guard<std::mutex> lock(env_.mu_);
      if (env_.TakeFault(Op::kSync, path())) {
        return Status::Error("cannot sync " + path() + ": injected fault");
      }
    }
    if (auto s = base_->Sync(); !s.ok()) return s;
    auto size = base_->Size();
    if (!size) return size.status();
    std::lock_guard<std::mutex> lock(env_.mu_);
    env_.Synced(path(), *size);
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override { return base_->Truncate(size); }
  Result<uint64_t> Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionEnv& env_;
  std::unique_ptr<WritableFile> base_;
};

void FaultInjectionEnv::FailNext(Op op, std::string path_part, std::optional<size_t> keep) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back({op, std::move(path_part), keep});
}

int FaultInjectionEnv::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

size_t FaultInjectionEnv::PendingDirOps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dir_ops_.size();
}

std::optional<FaultInjectionEnv::Fault> FaultInjectionEnv::TakeFault(Op op,
                                                                     const std::string& path) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->op == op && path.find(it->path_part) != std::string::npos) {
      Fault f = *it;
      faults_.erase(it);
      ++failures_;
      return f;
    }
  }
  return std::nullopt;
}

void FaultInjectionEnv::NoteCreated(const std::string& path) {
  synced_size_[path] = 0;
  dir_ops_.push_back({DirOp::kCreate, path, "", std::nullopt});
}

void FaultInjectionEnv::Synced(const std::string& path, uint64_t size) {
  synced_size_[path] = size;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::OpenWritable(const std::string& path,
                                                                      WriteMode mode) {
  auto before = base_.Stat(path);
  if (!before) return before.status();
  auto file = base_.OpenWritable(path, mode);
  if (!file) return file.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!*before) {
      NoteCreated(path);
    } else if (!synced_size_.count(path)) {
      // A file that was there before: what it held is durable, unless it is
      // emptied now (then nothing of it is until a Sync).
      synced_size_[path] = mode == WriteMode::kCreateTruncate ? 0 : (*before)->size;
    } else if (mode == WriteMode::kCreateTruncate) {
      synced_size_[path] = 0;
    }
  }
  return std::unique_ptr<WritableFile>(std::make_unique<File>(*this, std::move(file).value()));
}

Status FaultInjectionEnv::CreateDirs(const std::string& path) {
  std::vector<std::string> missing;
  for (std::string p = path; !p.empty() && p != "/" && p != ".";) {
    std::error_code ec;
    if (fs::exists(p, ec)) break;
    missing.insert(missing.begin(), p);
    p = ParentDir(p);
  }
  if (auto s = base_.CreateDirs(path); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& dir : missing) dir_ops_.push_back({DirOp::kMkdir, dir, "", std::nullopt});
  return Status::Ok();
}

Status FaultInjectionEnv::Rename(const std::string& from, const std::string& to) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (TakeFault(Op::kRename, to)) {
      return Status::Error("cannot rename " + from + " to " + to + ": injected fault");
    }
  }
  std::optional<std::string> old;
  if (auto content = base_.ReadFile(to); content.ok()) old = std::move(content).value();
  if (auto s = base_.Rename(from, to); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  synced_size_.erase(to);
  if (auto it = synced_size_.find(from); it != synced_size_.end()) {
    synced_size_[to] = it->second;
    synced_size_.erase(it);
  }
  dir_ops_.push_back({DirOp::kRename, to, from, std::move(old)});
  return Status::Ok();
}

Result<std::unique_ptr<SequentialFile>> FaultInjectionEnv::OpenSequential(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (TakeFault(Op::kOpenRead, path)) {
      return Status::Error("cannot open " + path + ": injected fault");
    }
  }
  return base_.OpenSequential(path);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  std::optional<std::string> old;
  if (auto content = base_.ReadFile(path); content.ok()) old = std::move(content).value();
  if (auto s = base_.RemoveFile(path); !s.ok()) return s;
  if (!old) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  synced_size_.erase(path);
  dir_ops_.push_back({DirOp::kRemove, path, "", std::move(old)});
  return Status::Ok();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (TakeFault(Op::kSyncDir, dir)) {
      return Status::Error("cannot sync " + dir + ": injected fault");
    }
  }
  if (auto s = base_.SyncDir(dir); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(dir_ops_, [&](const DirOp& op) { return ParentDir(op.path) == dir; });
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> FaultInjectionEnv::LockFile(const std::string& path) {
  return base_.LockFile(path);
}

Status FaultInjectionEnv::PowerCut() {
  std::lock_guard<std::mutex> lock(mu_);
  auto write = [](const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    return out.good() ? Status::Ok() : Status::Error("power cut: cannot restore " + path);
  };
  std::error_code ec;
  // Data written since the last fsync of its file.
  for (const auto& [path, size] : synced_size_) {
    if (fs::exists(path, ec) && fs::file_size(path, ec) > size) {
      if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
        return Status::Error("power cut: cannot truncate " + path);
      }
    }
  }
  // Folder entries changed since the last fsync of their folder, newest
  // first.
  for (auto it = dir_ops_.rbegin(); it != dir_ops_.rend(); ++it) {
    switch (it->kind) {
      case DirOp::kCreate:
        fs::remove(it->path, ec);
        break;
      case DirOp::kMkdir:
        fs::remove_all(it->path, ec);
        break;
      case DirOp::kRename:
        if (fs::exists(it->path, ec)) fs::rename(it->path, it->from, ec);
        if (it->old_content) {
          if (auto s = write(it->path, *it->old_content); !s.ok()) return s;
        }
        break;
      case DirOp::kRemove:
        if (auto s = write(it->path, *it->old_content); !s.ok()) return s;
        break;
    }
  }
  synced_size_.clear();
  dir_ops_.clear();
  faults_.clear();
  return Status::Ok();
}

}  // namespace linkwatch::faults
