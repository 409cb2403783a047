// Durable file operations over an Env (env.h): the one home of
// write-to-temp, fsync, rename and folder fsync, so that every file
// linkwatch replaces (lake partitions, model.json, metadata files) is either
// the old or the new version after a crash or a power cut, never a mix.
// Plain functions; thread-safe as the Env is. The overloads without an Env
// use Env::Default() (commands and tests that read a lake).
#pragma once

#include <string>
#include <string_view>

#include "agent/core/env.h"
#include "agent/core/status.h"

namespace linkwatch {

// Whether `name` can be one path component of a folder linkwatch writes
// (a lake's table folder): not empty, not starting with '.', no '/', '\\'
// or NUL. Table names become folder names, so "..", "a/b" or ".x" would write
// outside the lake or clash with its hidden temporaries.
bool IsSafeFileName(std::string_view name);

// The folder a path is in ("." for a bare name).
std::string ParentDir(const std::string& path);

// Writes `content` to `path` + ".tmp-<pid>", fsyncs it, renames it over
// `path` and fsyncs the folder.
Status WriteFileAtomic(Env& env, const std::string& path, std::string_view content);
Status WriteFileAtomic(const std::string& path, std::string_view content);
// Creates `path` (and missing folders above it), and makes each folder it
// created durable in its parent: a file made durable in a new folder is
// lost with the folder otherwise.
Status CreateDirsDurably(Env& env, const std::string& path);
// Copies `from` to `to` (created or emptied) and fsyncs `to`.
Status CopyFileSynced(Env& env, const std::string& from, const std::string& to);
// The whole file; an error names the path.
Result<std::string> ReadFile(const std::string& path);

}  // namespace linkwatch
