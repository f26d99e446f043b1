#!/usr/bin/python3
"""Writes tests/tokenizer/fixtures/fnet_tiny/: a tiny SentencePiece model laid out like FNet's
spiece.model (<pad> 0, <unk> 1, control pieces [CLS] 2, [SEP] 3, [MASK] 4), FNet's
tokenizer_config.json, and cases.json: texts with the ids Hugging Face's FNet / ALBERT text
handling gives them, computed here with Debian's python3-sentencepiece and the preprocessing
written out below from the documented behaviour (docs/importing.md, "FNet tokenization").

Run from the repository root: scripts/make_fnet_tokenizer_fixture.py [--out DIR]
(tests/tokenizer/hf_sentencepiece_test.cpp checks that it reproduces the committed files).
"""
import argparse
import json
import os
import unicodedata

import sentencepiece as spm

OUT = "tests/tokenizer/fixtures/fnet_tiny"
UNDERLINE = "\u2581"

CORPUS = """The quick brown fox jumps over the lazy dog.
I was born in 92000, and this is false.
Café, naïve, résumé and façade are borrowed words.
In 1999, 2000, and 2001 the numbers grew: 12,345 and 6,789.
"Quoted" text and ``LaTeX quotes'' appear in old corpora.
Über straße ÉCOLE Ärger Øre Ångström.
She said: it's a test, isn't it?
Numbers like 3, 4, 5 and 10, 20, 30 follow commas.
Mixing models replace attention with Fourier transforms.
Sparse mixers route tokens to experts.
"""

CASES = [
    "This is a test",
    "I was born in 92000, and this is falsé.",
    "  leading and   trailing\tspaces\n ",
    "``quoted'' and \"plain\" quotes",
    "Café naïve RÉSUMÉ Ångström",
    "numbers 1999, 2000,and 12,345",
    "3, 4, 5, 10, 20,30 and 45,",
    "[CLS] glued[MASK]word [SEP] second part [SEP]",
    "<unk> and <pad> in text",
    "",
    "   \t\n",
    "ŒUVRE ﬁne ①②",
    "ΣΊΣΥΦΟΣ",
]


def preprocess(text, lower, remove_space, keep_accents):
    out = " ".join(text.strip().split()) if remove_space else text
    out = out.replace("``", '"').replace("''", '"')
    if not keep_accents:
        out = "".join(c for c in unicodedata.normalize("NFKD", out) if not unicodedata.combining(c))
    if lower:
        out = out.lower()
    return out


def pieces_of(sp, text, flags):
    pieces = sp.encode(preprocess(text, *flags), out_type=str)
    result = []
    for p in pieces:
        if len(p) > 1 and p[-1] == "," and p[-2].isdigit():
            parts = sp.encode(p[:-1].replace(UNDERLINE, ""), out_type=str)
            if p[0] != UNDERLINE and parts and parts[0][0] == UNDERLINE:
                parts = parts[1:] if len(parts[0]) == 1 else [parts[0][1:]] + parts[1:]
            result += parts + [","]
        else:
            result.append(p)
    return result


def encode(sp, text, flags, specials):
    # Cut at special tokens, longest first, left to right.
    ids, pieces, rest = [], [], text
    order = sorted(specials, key=len, reverse=True)
    while rest:
        hits = [(rest.find(s), -len(s), s) for s in order if rest.find(s) >= 0]
        if not hits:
            chunk, special, rest = rest, None, ""
        else:
            at, _, special = min(hits)
            chunk, rest = rest[:at], rest[at + len(special):]
        if chunk:
            for p in pieces_of(sp, chunk, flags):
                pieces.append(p)
                ids.append(sp.piece_to_id(p))
        if special is not None:
            pieces.append(special)
            ids.append(sp.piece_to_id(special))
    return ids, pieces


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    corpus = os.path.join(out, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(CORPUS)
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=os.path.join(out, "spiece"), vocab_size=110,
        model_type="unigram", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        control_symbols="[CLS],[SEP],[MASK]",
        # Pieces ending in "<digit>," (FNet's vocabulary has many) exercise the comma rule.
        user_defined_symbols=["0,", "5,", UNDERLINE + "3,"], character_coverage=0.98, seed_sentencepiece_size=1000,
        num_threads=1, minloglevel=2)
    os.remove(corpus)
    os.remove(os.path.join(out, "spiece.vocab"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "FNetTokenizer", "do_lower_case": False, "remove_space": True,
                   "keep_accents": True, "unk_token": "<unk>", "pad_token": "<pad>",
                   "cls_token": "[CLS]", "sep_token": "[SEP]",
                   "mask_token": {"content": "[MASK]", "lstrip": True}}, f, indent=2)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "spiece.model"))
    specials = ["<unk>", "<pad>", "[CLS]", "[SEP]", "[MASK]"]
    configs = {"fnet": (False, True, True), "albert": (True, True, False),
               "fnet_keep_spaces": (False, False, True)}
    cases = []
    for text in CASES:
        case = {"text": text}
        for name, flags in configs.items():
            ids, pieces = encode(sp, text, flags, specials)
            case[name] = {"ids": ids, "pieces": pieces}
        cases.append(case)
    with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"configs": {k: dict(zip(["do_lower_case", "remove_space", "keep_accents"], v))
                               for k, v in configs.items()}, "cases": cases},
                  f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
