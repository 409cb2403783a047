// Partition locations of a local lake (lake-format.md "model.json"): an
// absolute `file:///<absolute path>` URI, every byte that is not an RFC 3986
// unreserved character or '/' percent-encoded, so that a lake under a folder
// with spaces or non-ASCII names still yields a valid URI
// (`file:///tmp/my%20lake/account/2024.csv`). Older lakes wrote locations
// relative to the lake folder; readers of model.json accept both.
//
// RelocateLake (`linkwatch lake relocate`) rewrites the locations of a lake
// folder that was moved. Pure functions, plus RelocateLake's file I/O;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/env.h"
#include "agent/core/status.h"

namespace linkwatch::sync::lake {

// The file in a lake folder that a process writing or relocating the lake
// holds an flock on (LakeDestination::Open, RelocateLake; `unlink
// --delete-data` waits for it and takes it as a sign of a lake).
inline constexpr const char* kLakeLockFile = ".linkwatch.lock";

// "file:///abs/path" for an absolute path (made absolute against the current
// directory when it is not).
std::string FileUri(const std::string& path);

// The path of a `file:` URI ("file:///p" or "file://localhost/p"), percent-
// decoded; nullopt for anything else (a relative path, https://, a bad %XX).
std::optional<std::string> PathOfFileUri(std::string_view uri);

// The absolute, lexically normal form of a folder path, without a trailing
// '/': what FileUri and lake relocations start from.
std::string AbsoluteFolder(const std::string& path);

// One location RelocateLake rewrote.
struct Relocation {
  std::string entity, partition, from, to;
};

// Rewrites every partition location of `<folder>/model.json` to point into
// `folder`: absolute `file:` URIs of the lake's earlier place and relative
// locations alike. Each location must name `<table>/<file>` or
// `<table>/Snapshot/<file>` of an entity's table, all of one earlier lake
// folder, and the file must exist in `folder`; otherwise nothing is changed
// and the error says which location. Refuses while a linkwatch process
// holds the lake (its `.linkwatch.lock`). model.json is replaced atomically.
Result<std::vector<Relocation>> RelocateLake(const std::string& folder, Env& env = Env::Default());

}  // namespace linkwatch::sync::lake
