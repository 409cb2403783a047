// The table writer of the `lake` destination (see lake.h for what a lake
// guarantees its readers): writes one table's partitions under
// `<lake>/<table>/`, in place (each partition rewritten to a hidden
// temporary and renamed into place) or append only (one write and fsync per
// batch), keeps the Id index and each committed partition's length and
// crc32 for the marker, and tells model.json's entity to LakeDestination.
// Files go through the destination's Env. A writer is used by one thread
// (its table's sync worker); it borrows the LakeDestination, which outlives
// it.
#pragma once

#include <memory>
#include <string>

#include "agent/core/status.h"
#include "agent/sync/destinations/lake.h"

namespace linkwatch::sync {

// Opens the writer of `schema`'s table in `lake`, cutting back and checking
// what the stored `marker` says was committed.
Result<std::unique_ptr<TableWriter>> OpenLakeTableWriter(LakeDestination& lake,
                                                         const TableSchema& schema,
                                                         const TableOptions& options,
                                                         const std::string& marker);

// The FileStamp of what Env::Stat says.
LakeDestination::FileStamp StampOf(const FileInfo& info);

}  // namespace linkwatch::sync
