#!/usr/bin/env python3
"""Builds the bundled demo corpus (data/corpus/) from public-domain Project Gutenberg books.

The books come hard-wrapped with paragraphs separated by blank lines. smx's corpus format wants one
sentence per line and a blank line between documents, so this script joins wrapped lines into
paragraphs, splits paragraphs into sentences, and makes each chapter a document (chapters longer than
MAX_SENTENCES are cut into several documents). Usage:
    scripts/prepare_corpus.py OUT_DIR BOOK.txt...
"""
import pathlib
import re
import sys

MAX_SENTENCES = 60
HEADING = re.compile(r"^(CHAPTER|VOLUME|BOOK|PART|ETYMOLOGY|EXTRACTS|Epilogue)\b", re.IGNORECASE)
SENTENCE_END = re.compile(r'(?<=[.!?])["\'\u201d\u2019)]*\s+(?=["\'\u201c\u2018(]?[A-Z])')


def paragraphs(text):
    block = []
    for line in text.splitlines():
        if line.strip():
            block.append(line.strip())
        elif block:
            yield " ".join(block)
            block = []
    if block:
        yield " ".join(block)


def documents(text):
    doc = []
    for para in paragraphs(text):
        if HEADING.match(para) and len(para) < 80:
            if doc:
                yield doc
            doc = []
            continue
        for sentence in SENTENCE_END.split(para):
            sentence = re.sub(r"\s+", " ", sentence).strip()
            if len(sentence) > 1:
                doc.append(sentence)
        if len(doc) >= MAX_SENTENCES:
            yield doc
            doc = []
    if doc:
        yield doc


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for path in map(pathlib.Path, sys.argv[2:]):
        text = path.read_text(encoding="utf-8").lstrip("\ufeff")
        docs = [d for d in documents(text) if len(d) >= 2]
        with open(out / path.name, "w", encoding="utf-8") as f:
            f.write("\n\n".join("\n".join(d) for d in docs) + "\n")
        print(f"{path.name}: {len(docs)} documents, {sum(map(len, docs))} sentences")


if __name__ == "__main__":
    main()
