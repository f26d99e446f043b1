// Test helpers: gzip / zstd compression (one member / frame per part) and JSON Lines shards made
// from the text-corpus form of the same documents.
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smx::testing {

// One gzip member holding `text`.
inline std::string gzip_member(const std::string& text, int level = 6) {
  z_stream z{};
  deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(text.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// One zstd frame holding `text`, with a content checksum as the zstd tool writes by default.
inline std::string zstd_frame(const std::string& text, int level = 3) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(text.size()), '\0');
  out.resize(ZSTD_compress2(cctx, out.data(), out.size(), text.data(), text.size()));
  ZSTD_freeCCtx(cctx);
  return out;
}

// The parts compressed one member / frame each and concatenated.
inline std::string gzip_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += gzip_member(p);
  return out;
}
inline std::string zstd_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += zstd_frame(p);
  return out;
}

// Text-corpus form (lines, blank line between documents) -> JSON Lines, one {"text": lines joined
// by "\n", "id": k} object per document.
inline std::string jsonl_from_text_corpus(const std::string& corpus,
                                          const std::string& field = "text") {
  std::string out, doc;
  std::size_t start = 0;
  int id = 0;
  auto flush = [&] {
    if (doc.empty()) return;
    doc.pop_back();  // the last "\n"
    out += nlohmann::json{{"id", id++}, {field, doc}}.dump() + "\n";
    doc.clear();
  };
  while (start < corpus.size()) {
    auto end = corpus.find('\n', start);
    if (end == std::string::npos) end = corpus.size();
    const std::string line = corpus.substr(start, end - start);
    if (line.empty()) {
      flush();
    } else {
      doc += line + "\n";
    }
    start = end + 1;
  }
  flush();
  return out;
}

}  // namespace smx::testing
