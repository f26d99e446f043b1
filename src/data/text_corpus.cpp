#include "smx/data/text_corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/core/utf8.h"
#include "smx/data/rng.h"
#include "smx/data/shard_line_reader.h"

namespace smx {
namespace {

constexpr std::size_t kSniffBytes = 64 * 1024;

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
  });
}

void check_file(const std::string& path, uint64_t* size, Compression* compression) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    fail("corpus file {} does not exist or is not a regular file; check the path", path);
  }
  *size = std::filesystem::file_size(path, ec);
  if (ec) fail("corpus file {}: cannot read its size ({})", path, ec.message());
  if (*size == 0) fail("corpus file {} is empty; remove it from the list or give it text", path);
  *compression = detect_compression(path);
  if (*compression != Compression::none) return;  // its bytes are checked as they are decoded
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("corpus file {} cannot be opened; check its permissions", path);
  std::string head(std::min<uint64_t>(*size, kSniffBytes), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (const auto nul = head.find('\0'); nul != std::string::npos) {
    fail("corpus file {} looks binary (NUL byte at offset {}); the corpus must be UTF-8 text", path,
         nul);
  }
}

}  // namespace

bool is_eval_document(uint64_t document_index, uint64_t split_seed, double eval_fraction) {
  const uint64_t h = mix64(mix64(document_index) ^ mix64(split_seed ^ 0x5EED5EED5EED5EEDULL));
  return static_cast<double>(h >> 11) * 0x1.0p-53 < eval_fraction;
}

std::vector<std::string> split_text_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0, i = 0;
  const std::size_t n = text.size();
  auto emit = [&](std::size_t end, std::size_t next) {
    std::string_view line(text.data() + start, end - start);
    if (!is_blank(line)) lines.emplace_back(line);
    start = i = next;
  };
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\v' || c == '\f' || c == 0x1C || c == 0x1D || c == 0x1E) {
      emit(i, i + 1);
    } else if (c == '\r') {
      emit(i, i + 1 < n && text[i + 1] == '\n' ? i + 2 : i + 1);
    } else if (c == 0xC2 && i + 1 < n && static_cast<unsigned char>(text[i + 1]) == 0x85) {
      emit(i, i + 2);  // U+0085 NEXT LINE
    } else if (c == 0xE2 && i + 2 < n && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
      emit(i, i + 3);  // U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR
    } else {
      ++i;
    }
  }
  if (start < n) emit(n, n);
  return lines;
}

TextCorpus::TextCorpus(std::vector<std::string> files, CorpusOptions options)
    : files_(std::move(files)), options_(std::move(options)) {
  options_.validate();
  if (files_.empty()) fail("text corpus: no files given; pass at least one text file");
  sizes_.resize(files_.size());
  compression_.resize(files_.size());
  for (std::size_t i = 0; i < files_.size(); ++i) {
    check_file(files_[i], &sizes_[i], &compression_[i]);
    formats_.push_back(resolve_corpus_format(options_.format, files_[i]));
  }
}

TextCorpus::~TextCorpus() = default;
TextCorpus::TextCorpus(TextCorpus&&) noexcept = default;

void TextCorpus::seek(const CorpusPosition& position) {
  const bool inside = position.file < files_.size() &&
                      (compression_[position.file] == Compression::none
                           ? position.byte_offset <= sizes_[position.file] &&
                                 position.restart.compressed == position.restart.decompressed
                           : position.restart.compressed <= sizes_[position.file] &&
                                 position.restart.decompressed <= position.byte_offset);
  if (!(inside || position.file == files_.size())) {
    fail(
        "text corpus: position (file {}, byte {}) lies outside the corpus; the saved state belongs "
        "to other files",
        position.file, position.byte_offset);
  }
  reader_.reset();
  shard_done_ = false;
  position_ = position;
}

void TextCorpus::skip_bad(const std::string& why) {
  ++bad_records_;
  last_bad_record_ = why;
}

void TextCorpus::end_file() {
  reader_.reset();
  shard_done_ = false;
  ++position_.file;
  position_.byte_offset = 0;
  position_.line = 0;
  position_.restart = {};
}

bool TextCorpus::read_line(std::string& line) {
  for (;;) {
    if (shard_done_) return false;
    const auto& file = files_[position_.file];
    try {
      if (!reader_) {
        reader_ = std::make_unique<ShardLineReader>(
            file, compression_[position_.file],
            ShardPosition{position_.byte_offset, position_.line, position_.restart});
      }
      const LineStatus status = reader_->next(line);
      const auto& p = reader_->position();
      position_.byte_offset = p.offset;
      position_.line = p.line;
      position_.restart = p.restart;
      if (status == LineStatus::end) return false;
      if (status == LineStatus::overlong) {
        const std::string why =
            fmt::format("corpus file {}:{}: the line is longer than {} MiB; split it or drop it",
                        file, position_.line, ShardLineReader::kMaxLineBytes >> 20);
        if (!options_.skip_bad_records) fail("{}", why);
        skip_bad(why);
        continue;
      }
      return true;
    } catch (const Error& e) {
      // The stream is broken (corrupt, truncated) or the shard vanished: nothing more of it can be
      // read reliably.
      if (!options_.skip_bad_records) throw;
      skip_bad(std::string(e.what()) + " (skipped the rest of the shard)");
      shard_done_ = true;
      return false;
    }
  }
}

bool TextCorpus::check_line(std::string& line) {
  const auto& file = files_[position_.file];
  if (position_.line == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::string why;
  if (line.find('\0') != std::string::npos) {
    why = fmt::format("corpus file {}:{}: NUL byte (binary content); the corpus must be UTF-8 text",
                      file, position_.line);
  } else if (const auto bad = find_invalid_utf8(line)) {
    why = fmt::format(
        "corpus file {}:{}: invalid UTF-8 at byte {} of the line; convert the file to UTF-8 (e.g. "
        "iconv) or drop the line",
        file, position_.line, *bad);
  }
  if (why.empty()) return true;
  if (!options_.skip_bad_records) fail("{}", why);
  skip_bad(why);
  return false;
}

std::optional<Document> TextCorpus::next() {
  while (position_.file < files_.size()) {
    auto doc = formats_[position_.file] == CorpusFormat::jsonl ? next_jsonl() : next_text();
    if (doc) return doc;
    end_file();
  }
  return std::nullopt;
}

// The next document of the current text file, or nullopt at its end.
std::optional<Document> TextCorpus::next_text() {
  std::string line;
  Document doc;
  while (read_line(line)) {
    if (!check_line(line)) continue;
    if (is_blank(line)) {
      if (doc.lines.empty()) continue;  // blank lines before a document
      break;                            // the blank line that ends it
    }
    if (doc.lines.empty()) doc.first_line = position_.line;
    doc.lines.push_back(std::move(line));
  }
  if (doc.lines.empty()) return std::nullopt;
  doc.index = position_.document++;
  doc.file = files_[position_.file];
  return doc;
}

// The next record of the current JSON Lines file, or nullopt at its end.
std::optional<Document> TextCorpus::next_jsonl() {
  std::string line;
  const auto& file = files_[position_.file];
  while (read_line(line)) {
    if (position_.line == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (is_blank(line)) continue;
    Document doc;
    doc.index = position_.document++;  // a bad record keeps its index: later ones do not shift
    doc.file = file;
    doc.first_line = position_.line;
    const std::string where = fmt::format("corpus file {}:{}", file, position_.line);
    try {
      const auto j = parse_json(line, where);
      if (!j.is_object()) {
        fail("{}: the line is a JSON {}, not an object; each line must hold one document object",
             where, j.type_name());
      }
      const auto field = j.find(options_.text_field);
      if (field == j.end()) {
        fail(
            "{}: the record has no \"{}\" field; name the field that holds the text with "
            "--text-field",
            where, options_.text_field);
      }
      if (!field->is_string()) {
        fail("{}: field \"{}\" holds a JSON {}, not a string; name a text field with --text-field",
             where, options_.text_field, field->type_name());
      }
      const auto& text = field->get_ref<const std::string&>();
      if (text.find('\0') != std::string::npos)
        fail("{}: the text holds a NUL character (\\u0000); drop the record", where);
      doc.lines = split_text_lines(text);
    } catch (const Error& e) {
      if (!options_.skip_bad_records) throw;
      skip_bad(e.what());
      continue;
    }
    return doc;
  }
  return std::nullopt;
}

}  // namespace smx
