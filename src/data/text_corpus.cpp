#include "smx/data/text_corpus.h"

#include <algorithm>
#include <filesystem>

#include "smx/core/error.h"
#include "smx/core/utf8.h"
#include "smx/data/rng.h"

namespace smx {
namespace {

constexpr std::size_t kSniffBytes = 64 * 1024;

bool is_blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
  });
}

void check_file(const std::string& path, uint64_t* size) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    fail("corpus file {} does not exist or is not a regular file; check the path", path);
  }
  *size = std::filesystem::file_size(path, ec);
  if (ec) fail("corpus file {}: cannot read its size ({})", path, ec.message());
  if (*size == 0) fail("corpus file {} is empty; remove it from the list or give it text", path);
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

TextCorpus::TextCorpus(std::vector<std::string> files) : files_(std::move(files)) {
  if (files_.empty()) fail("text corpus: no files given; pass at least one text file");
  sizes_.resize(files_.size());
  for (std::size_t i = 0; i < files_.size(); ++i) check_file(files_[i], &sizes_[i]);
}

void TextCorpus::seek(const CorpusPosition& position) {
  if (position.file > files_.size() ||
      (position.file < files_.size() && position.byte_offset > sizes_[position.file])) {
    fail(
        "text corpus: position (file {}, byte {}) lies outside the corpus; the saved state belongs "
        "to other files",
        position.file, position.byte_offset);
  }
  in_.close();
  open_ = false;
  position_ = position;
}

void TextCorpus::open_current() {
  in_.close();
  in_.clear();
  in_.open(files_[position_.file], std::ios::binary);
  if (!in_) fail("corpus file {} cannot be opened; check its permissions", files_[position_.file]);
  in_.seekg(static_cast<std::streamoff>(position_.byte_offset));
  if (!in_) {
    fail("corpus file {}: cannot seek to byte {}; the file changed since the position was taken",
         files_[position_.file], position_.byte_offset);
  }
  open_ = true;
}

bool TextCorpus::read_line(std::string& line) {
  if (!open_) open_current();
  if (!std::getline(in_, line)) {
    if (in_.bad()) fail("corpus file {}: read error", files_[position_.file]);
    return false;
  }
  // getline consumed a '\n' unless it stopped at the end of the file.
  position_.byte_offset += line.size() + (in_.eof() ? 0 : 1);
  ++position_.line;
  const auto& file = files_[position_.file];
  if (line.find('\0') != std::string::npos) {
    fail("corpus file {}:{}: NUL byte (binary content); the corpus must be UTF-8 text", file,
         position_.line);
  }
  if (position_.line == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (const auto bad = find_invalid_utf8(line)) {
    fail(
        "corpus file {}:{}: invalid UTF-8 at byte {} of the line; convert the file to UTF-8 (e.g. "
        "iconv) or drop the line",
        file, position_.line, *bad);
  }
  return true;
}

std::optional<Document> TextCorpus::next() {
  std::string line;
  while (position_.file < files_.size()) {
    Document doc;
    while (read_line(line)) {
      if (is_blank(line)) {
        if (doc.lines.empty()) continue;  // blank lines before a document
        break;                            // the blank line that ends it
      }
      if (doc.lines.empty()) doc.first_line = position_.line;
      doc.lines.push_back(std::move(line));
    }
    if (!doc.lines.empty()) {
      doc.index = position_.document++;
      doc.file = files_[position_.file];
      return doc;
    }
    // End of this file: move on to the next one.
    in_.close();
    open_ = false;
    ++position_.file;
    position_.byte_offset = 0;
    position_.line = 0;
  }
  return std::nullopt;
}

}  // namespace smx
