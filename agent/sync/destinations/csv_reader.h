// CsvReader: a strict, streaming RFC 4180 reader for the lake's CSV files
// (lake-format.md "CSV"): comma separated, `"` quoting with doubled quotes
// inside, quoted fields may hold commas, CR and LF; a record ends at LF or
// CRLF (the last one may end at the end of the input); no header; bytes are
// passed through (UTF-8 is not validated). Anything else is an error naming
// `name:line`: a quote inside an unquoted field, text after a closing quote,
// a CR outside quotes that does not start a CRLF, an unterminated quoted field.
//
// It is the lake verifier's reader and deliberately shares no code with the
// lake writer, so that it catches the writer's bugs.
//
// Records are read one at a time. fields() are views into the reader's buffer
// (or into the caller's buffer), valid until the next call to Next(); reading
// a record allocates nothing once the buffers have grown to the widest record.
// A file is read in blocks, so memory stays bounded by the block size and the
// longest record. The caller owns the buffer passed to the string_view
// constructor and keeps it alive while reading. A CsvReader is used by one
// thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/env.h"
#include "agent/core/status.h"

namespace linkwatch::sync {

class CsvReader {
 public:
  static constexpr size_t kDefaultBlockSize = 1 << 20;

  // Reads `data`, which the caller keeps alive; `name` prefixes error messages.
  CsvReader(std::string_view data, std::string name);
  // Streams the file at `path` through `env`; `name` (default: the path)
  // prefixes error messages. Fails when the file cannot be opened.
  static Result<std::unique_ptr<CsvReader>> OpenFile(Env& env, const std::string& path,
                                                     std::string name = {},
                                                     size_t block_size = kDefaultBlockSize);
  // For tests and the fuzzer: reads `data` as a stream handed over `chunk`
  // bytes at a time into a buffer that starts `block_size` bytes long, which
  // exercises the refill and buffer-growth paths of a file read.
  static std::unique_ptr<CsvReader> FromChunks(std::string_view data, std::string name,
                                               size_t chunk, size_t block_size);

  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next record into fields(): true when one was read, false at the
  // end of the input, or an error "name:line: what". After an error the
  // reader stays at the end.
  Result<bool> Next();

  const std::vector<std::string_view>& fields() const { return fields_; }
  // Whether field i of the current record was quoted: an empty unquoted field
  // is NULL, a quoted one ("") an empty string (lake-format.md "CSV").
  bool quoted(size_t i) const { return i < quoted_.size() && quoted_[i] != 0; }
  // 1-based line on which the current record starts (lines end at LF).
  int64_t line() const { return record_line_; }
  const std::string& name() const { return name_; }

  // How the records read so far ended: with CRLF, with LF, or (only the last
  // record can) at the end of the input without a line break.
  int64_t crlf_records() const { return crlf_records_; }
  int64_t lf_records() const { return lf_records_; }
  bool last_record_unterminated() const { return unterminated_; }

 private:
  enum class Input { kView, kFile, kChunks };
  enum class Outcome { kRecord, kEnd, kNeedMore, kError };
  struct Span {
    size_t begin;
    size_t end;
    bool escaped;  // holds doubled quotes to undo
    bool quoted;
  };

  CsvReader(Input input, std::string name);
  Outcome Parse();
  Status Refill();
  void Fail(int64_t line, const std::string& what);
  void Materialize();

  Input input_;
  std::string name_;
  // The bytes being parsed: the caller's view, or buffer_[0, size_).
  const char* data_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;  // start of the next record in data_
  bool eof_ = false;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  std::unique_ptr<SequentialFile> file_;  // kFile
  std::string_view chunks_;               // kChunks: the rest still to hand over
  size_t chunk_ = 0;

  int64_t next_line_ = 1;  // line at pos_
  int64_t record_line_ = 0;
  int64_t crlf_records_ = 0;
  int64_t lf_records_ = 0;
  bool unterminated_ = false;
  bool failed_ = false;
  std::string error_;

  // Scratch of Parse(): where the record's fields are, and how it ended.
  std::vector<Span> spans_;  // [0, span_count_) in use
  size_t span_count_ = 0;
  size_t record_end_ = 0;
  int64_t record_lines_ = 0;
  int ending_ = 0;  // 0 none (end of input), 1 LF, 2 CRLF
  std::vector<std::string_view> fields_;
  std::vector<uint8_t> quoted_;  // per field of fields_: 1 when quoted
  std::string unescaped_;
};

}  // namespace linkwatch::sync
