#include "agent/sync/destinations/csv_reader.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace linkwatch::sync {
namespace {

// Bytes that end an unquoted field, or may not appear in one.
constexpr std::array<bool, 256> kStop = [] {
  std::array<bool, 256> t{};
  t[static_cast<unsigned char>(',')] = true;
  t[static_cast<unsigned char>('\n')] = true;
  t[static_cast<unsigned char>('\r')] = true;
  t[static_cast<unsigned char>('"')] = true;
  return t;
}();

// The index of the first byte at or after `q` in d[0, n) that ends an
// unquoted field, or n. Eight bytes at a time (SWAR): for each special byte c,
// a zero byte of v ^ c*0x01..01 marks a match; the lowest mark is exact.
size_t ScanUnquoted(const char* d, size_t q, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    auto zero_bytes = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
    for (; q + 8 <= n; q += 8) {
      uint64_t v;
      std::memcpy(&v, d + q, 8);
      const uint64_t m = zero_bytes(v ^ (kOnes * ',')) | zero_bytes(v ^ (kOnes * '\n')) |
                         zero_bytes(v ^ (kOnes * '\r')) | zero_bytes(v ^ (kOnes * '"'));
      if (m != 0) return q + static_cast<size_t>(std::countr_zero(m)) / 8;
    }
  }
  while (q < n && !kStop[static_cast<unsigned char>(d[q])]) ++q;
  return q;
}

int64_t CountLf(const char* begin, const char* end) {
  int64_t n = 0;
  while (begin < end) {
    const void* hit = std::memchr(begin, '\n', static_cast<size_t>(end - begin));
    if (hit == nullptr) break;
    ++n;
    begin = static_cast<const char*>(hit) + 1;
  }
  return n;
}

}  // namespace

CsvReader::CsvReader(Input input, std::string name) : input_(input), name_(std::move(name)) {}

CsvReader::CsvReader(std::string_view data, std::string name)
    : input_(Input::kView), name_(std::move(name)) {
  data_ = data.data();
  size_ = data.size();
  eof_ = true;
}

CsvReader::~CsvReader() = default;

Result<std::unique_ptr<CsvReader>> CsvReader::OpenFile(Env& env, const std::string& path,
                                                       std::string name, size_t block_size) {
  auto file = env.OpenSequential(path);
  if (!file) return file.status();
  std::unique_ptr<CsvReader> r(new CsvReader(Input::kFile, name.empty() ? path : std::move(name)));
  r->file_ = std::move(file).value();
  r->capacity_ = std::max<size_t>(block_size, 1);
  r->buffer_ = std::make_unique<char[]>(r->capacity_);
  r->data_ = r->buffer_.get();
  return r;
}

std::unique_ptr<CsvReader> CsvReader::FromChunks(std::string_view data, std::string name,
                                                 size_t chunk, size_t block_size) {
  std::unique_ptr<CsvReader> r(new CsvReader(Input::kChunks, std::move(name)));
  r->chunks_ = data;
  r->chunk_ = std::max<size_t>(chunk, 1);
  r->capacity_ = std::max<size_t>(block_size, 1);
  r->buffer_ = std::make_unique<char[]>(r->capacity_);
  r->data_ = r->buffer_.get();
  return r;
}

void CsvReader::Fail(int64_t line, const std::string& what) {
  error_ = name_ + ":" + std::to_string(line) + ": " + what;
}

Status CsvReader::Refill() {
  // Keep the unparsed tail (a partial record) at the front of the buffer.
  if (pos_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + pos_, size_ - pos_);
    size_ -= pos_;
    pos_ = 0;
  }
  if (size_ == capacity_) {  // one record fills the buffer: grow it
    const size_t grown = capacity_ * 2;
    auto bigger = std::make_unique<char[]>(grown);
    std::memcpy(bigger.get(), buffer_.get(), size_);
    buffer_ = std::move(bigger);
    capacity_ = grown;
  }
  data_ = buffer_.get();
  char* out = buffer_.get() + size_;
  const size_t room = capacity_ - size_;
  if (input_ == Input::kChunks) {
    const size_t n = std::min({room, chunk_, chunks_.size()});
    std::memcpy(out, chunks_.data(), n);
    chunks_.remove_prefix(n);
    size_ += n;
    if (n == 0) eof_ = true;
    return Status::Ok();
  }
  auto n = file_->Read(out, room);
  if (!n) return n.status();
  size_ += *n;
  if (*n == 0) eof_ = true;
  return Status::Ok();
}

// Parses one record at pos_ without consuming it. Needs more input (when
// there is more) whenever what follows the bytes at hand could change the
// meaning: the end of an unquoted field, a quote that may be doubled, a CR
// that may start a CRLF.
CsvReader::Outcome CsvReader::Parse() {
  const char* const d = data_;
  const size_t n = size_;
  size_t p = pos_;
  if (p == n) return eof_ ? Outcome::kEnd : Outcome::kNeedMore;
  // Spans go to a plain array held in locals: a vector's push_back here
  // costs a quarter of the parse (its members are reloaded on every call).
  Span* spans = spans_.data();
  size_t count = 0;
  size_t room = spans_.size();
  auto add = [&](Span s) {
    if (count == room) {
      spans_.resize(room * 2 + 16);
      spans = spans_.data();
      room = spans_.size();
    }
    spans[count++] = s;
  };
  int64_t lines = 0;
  while (true) {
    if (p < n && d[p] == '"') {
      const int64_t open_line = lines;
      size_t q = p + 1;
      bool escaped = false;
      size_t close = 0;
      while (true) {
        const void* hit = q < n ? std::memchr(d + q, '"', n - q) : nullptr;
        if (hit == nullptr) {
          if (!eof_) return Outcome::kNeedMore;
          Fail(next_line_ + open_line, "unterminated quoted field " + std::to_string(count + 1) +
                                           " (its opening quote is on this line)");
          return Outcome::kError;
        }
        const size_t k = static_cast<size_t>(static_cast<const char*>(hit) - d);
        lines += CountLf(d + q, d + k);
        if (k + 1 < n && d[k + 1] == '"') {
          escaped = true;
          q = k + 2;
          continue;
        }
        // A quote that ends the bytes at hand may be the first of a pair:
        // the p == n check below asks for more before deciding.
        close = k;
        break;
      }
      add({p + 1, close, escaped, true});
      p = close + 1;
      if (p == n) {
        if (!eof_) return Outcome::kNeedMore;
        ending_ = 0;
        break;
      }
      const char c = d[p];
      if (c == ',') {
        ++p;
        continue;
      }
      if (c == '\n') {
        ++p;
        ++lines;
        ending_ = 1;
        break;
      }
      if (c == '\r') {
        if (p + 1 == n && !eof_) return Outcome::kNeedMore;
        if (p + 1 < n && d[p + 1] == '\n') {
          p += 2;
          ++lines;
          ending_ = 2;
          break;
        }
      }
      Fail(next_line_ + lines, "text after the closing quote of field " + std::to_string(count));
      return Outcome::kError;
    }
    const size_t q = ScanUnquoted(d, p, n);
    if (q == n) {
      if (!eof_) return Outcome::kNeedMore;
      add({p, q, false, false});
      p = q;
      ending_ = 0;
      break;
    }
    const char c = d[q];
    if (c == ',') {
      add({p, q, false, false});
      p = q + 1;
      continue;
    }
    if (c == '\n') {
      add({p, q, false, false});
      p = q + 1;
      ++lines;
      ending_ = 1;
      break;
    }
    if (c == '\r') {
      if (q + 1 == n && !eof_) return Outcome::kNeedMore;
      if (q + 1 < n && d[q + 1] == '\n') {
        add({p, q, false, false});
        p = q + 2;
        ++lines;
        ending_ = 2;
        break;
      }
      Fail(next_line_ + lines,
           "CR without LF outside quotes in field " + std::to_string(count + 1));
      return Outcome::kError;
    }
    Fail(next_line_ + lines, "quote inside unquoted field " + std::to_string(count + 1));
    return Outcome::kError;
  }
  span_count_ = count;
  record_end_ = p;
  record_lines_ = lines;
  return Outcome::kRecord;
}

void CsvReader::Materialize() {
  const Span* const spans = spans_.data();
  const size_t count = span_count_;
  size_t escaped_bytes = 0;
  for (size_t i = 0; i < count; ++i) {
    if (spans[i].escaped) escaped_bytes += spans[i].end - spans[i].begin;
  }
  unescaped_.clear();
  // Reserved up front so that appending never moves the views handed out.
  if (escaped_bytes > 0) unescaped_.reserve(escaped_bytes);
  fields_.resize(count);
  quoted_.resize(count);
  std::string_view* const fields = fields_.data();
  for (size_t f = 0; f < count; ++f) {
    const Span& s = spans[f];
    quoted_[f] = s.quoted ? 1 : 0;
    if (!s.escaped) {
      fields[f] = std::string_view(data_ + s.begin, s.end - s.begin);
      continue;
    }
    const size_t start = unescaped_.size();
    for (size_t i = s.begin; i < s.end; ++i) {
      unescaped_.push_back(data_[i]);
      if (data_[i] == '"') ++i;  // Parse() saw every inner quote doubled
    }
    fields[f] = std::string_view(unescaped_.data() + start, unescaped_.size() - start);
  }
}

Result<bool> CsvReader::Next() {
  if (failed_) {
    fields_.clear();
    return false;
  }
  while (true) {
    switch (Parse()) {
      case Outcome::kNeedMore:
        if (auto s = Refill(); !s.ok()) {
          failed_ = true;
          fields_.clear();
          return s;
        }
        continue;
      case Outcome::kEnd:
        fields_.clear();
        return false;
      case Outcome::kError:
        failed_ = true;
        fields_.clear();
        return Status::Error(error_);
      case Outcome::kRecord:
        break;
    }
    break;
  }
  record_line_ = next_line_;
  next_line_ += record_lines_;
  if (ending_ == 2) {
    ++crlf_records_;
  } else if (ending_ == 1) {
    ++lf_records_;
  } else {
    unterminated_ = true;
  }
  Materialize();
  pos_ = record_end_;
  return true;
}

}  // namespace linkwatch::sync
