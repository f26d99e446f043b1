#!/usr/bin/python3
"""Independent check of a folder written by `smx export hf` (tests/import/hf_export_test.cpp).

Checks, without smx or transformers, what transformers' from_pretrained relies on:
  * config.json: architectures, model_type, the size keys, hidden_act, layer_norm_eps,
    id2label / label2id for a sequence classifier;
  * model.safetensors: parsed by hand here; metadata format "pt"; exactly the tensor names of the
    architecture's state dict (Hugging Face BERT / FNet module layout written out below from the
    documented modules), each with the shape the config implies and dtype F32;
  * tokenizer files: vocab.txt with vocab_size lines, or a spiece.model SentencePiece loads
    (python3-sentencepiece) with vocab_size pieces; tokenizer_config.json's class.
With --input, also runs tests/import/hf_reference.py's forward on the folder and writes its
outputs to --out. Exit status 0 when every check passes, else 1 with one line per failure.

    hf_export_check.py --dir HFDIR [--input ids.json --out outputs.json]
"""
import argparse
import json
import os
import sys

DT_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}


def read_header(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    size = len(data) - 8 - n
    return header, meta, size


def expected_tensors(cfg):
    """name -> shape of the architecture's state dict."""
    arch = cfg["architectures"][0]
    fnet = cfg["model_type"] == "fnet"
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    P, T = cfg["max_position_embeddings"], cfg["type_vocab_size"]
    bare = arch in ("BertModel", "FNetModel")
    base = "" if bare else ("fnet." if fnet else "bert.")
    out = {}

    def linear(name, n_in, n_out):
        out[name + ".weight"] = [n_out, n_in]
        out[name + ".bias"] = [n_out]

    def norm(name, n):
        out[name + ".weight"] = [n]
        out[name + ".bias"] = [n]

    e = base + "embeddings."
    out[e + "word_embeddings.weight"] = [V, H]
    out[e + "position_embeddings.weight"] = [P, H]
    out[e + "token_type_embeddings.weight"] = [T, H]
    norm(e + "LayerNorm", H)
    if fnet:
        linear(e + "projection", H, H)
    for layer in range(cfg["num_hidden_layers"]):
        p = f"{base}encoder.layer.{layer}."
        if fnet:
            norm(p + "fourier.output.LayerNorm", H)
        else:
            for qkv in ("query", "key", "value"):
                linear(p + "attention.self." + qkv, H, H)
            linear(p + "attention.output.dense", H, H)
            norm(p + "attention.output.LayerNorm", H)
        linear(p + "intermediate.dense", H, I)
        linear(p + "output.dense", I, H)
        norm(p + "output.LayerNorm", H)
    if arch != "BertForMaskedLM":
        linear(base + "pooler.dense", H, H)
    if arch.endswith("ForPreTraining") or arch.endswith("ForMaskedLM"):
        linear("cls.predictions.transform.dense", H, H)
        norm("cls.predictions.transform.LayerNorm", H)
        out["cls.predictions.bias"] = [V]
    if arch.endswith("ForPreTraining"):
        linear("cls.seq_relationship", H, 2)
    if arch.endswith("ForSequenceClassification"):
        linear("classifier", H, len(cfg["id2label"]))
    return out


def check(d):
    errors = []
    cfg = json.load(open(os.path.join(d, "config.json")))
    fnet = cfg.get("model_type") == "fnet"
    known = {"bert": ["BertModel", "BertForPreTraining", "BertForMaskedLM",
                      "BertForSequenceClassification"],
             "fnet": ["FNetModel", "FNetForPreTraining", "FNetForMaskedLM",
                      "FNetForSequenceClassification"]}
    if cfg.get("model_type") not in known:
        return [f"config.json: model_type {cfg.get('model_type')!r} is not bert or fnet"]
    arch = cfg.get("architectures", [None])[0]
    if arch not in known[cfg["model_type"]]:
        return [f"config.json: architectures {cfg.get('architectures')} do not fit model_type"]
    required = ["vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size",
                "hidden_act", "max_position_embeddings", "type_vocab_size", "layer_norm_eps",
                "pad_token_id"] + ([] if fnet else ["num_attention_heads"])
    for key in required:
        if key not in cfg:
            errors.append(f"config.json: no {key}")
    if cfg.get("hidden_act") not in ("gelu", "gelu_new"):
        errors.append(f"config.json: hidden_act {cfg.get('hidden_act')!r}")
    if not fnet and cfg["hidden_size"] % cfg["num_attention_heads"]:
        errors.append("config.json: hidden_size is not a multiple of num_attention_heads")
    if arch.endswith("ForSequenceClassification"):
        id2label, label2id = cfg.get("id2label", {}), cfg.get("label2id", {})
        if sorted(int(k) for k in id2label) != list(range(len(id2label))) or not id2label:
            errors.append("config.json: id2label keys are not 0..n-1")
        if {v: int(k) for k, v in id2label.items()} != label2id:
            errors.append("config.json: label2id is not id2label inverted")
    if errors:
        return errors

    header, meta, size = read_header(os.path.join(d, "model.safetensors"))
    if meta.get("format") != "pt":
        errors.append(f"model.safetensors: metadata format {meta.get('format')!r}, not 'pt'")
    want = expected_tensors(cfg)
    for name in sorted(set(want) - set(header)):
        errors.append(f"model.safetensors: missing {name}")
    for name in sorted(set(header) - set(want)):
        errors.append(f"model.safetensors: unexpected {name}")
    end = 0
    for name in sorted(set(want) & set(header)):
        e = header[name]
        if e["shape"] != want[name]:
            errors.append(f"model.safetensors: {name} has shape {e['shape']}, want {want[name]}")
        if e["dtype"] != "F32":
            errors.append(f"model.safetensors: {name} has dtype {e['dtype']}")
        b, f = e["data_offsets"]
        count = 1
        for s in e["shape"]:
            count *= s
        if f - b != count * DT_BYTES.get(e["dtype"], 0):
            errors.append(f"model.safetensors: {name} spans {f - b} bytes")
        end = max(end, f)
    if end > size:
        errors.append("model.safetensors: data past the end of the file")

    tc_path = os.path.join(d, "tokenizer_config.json")
    if os.path.exists(os.path.join(d, "vocab.txt")):
        lines = open(os.path.join(d, "vocab.txt"), encoding="utf-8").read().split("\n")
        if lines[-1] == "":
            lines.pop()
        if len(lines) != cfg["vocab_size"]:
            errors.append(f"vocab.txt: {len(lines)} pieces, config vocab_size {cfg['vocab_size']}")
        if json.load(open(tc_path)).get("tokenizer_class") != "BertTokenizer":
            errors.append("tokenizer_config.json: tokenizer_class is not BertTokenizer")
    elif os.path.exists(os.path.join(d, "spiece.model")):
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "spiece.model"))
        if sp.get_piece_size() != cfg["vocab_size"]:
            errors.append(f"spiece.model: {sp.get_piece_size()} pieces, "
                          f"config vocab_size {cfg['vocab_size']}")
        tc = json.load(open(tc_path))
        if tc.get("tokenizer_class") not in ("FNetTokenizer", "AlbertTokenizer"):
            errors.append(f"tokenizer_config.json: tokenizer_class {tc.get('tokenizer_class')!r}")
        for key in ("cls_token", "sep_token", "mask_token"):
            if sp.piece_to_id(tc[key]) == sp.unk_id():
                errors.append(f"tokenizer_config.json: {key} {tc[key]!r} is not a piece")
    else:
        errors.append("no tokenizer files (vocab.txt or spiece.model)")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--input")
    ap.add_argument("--out")
    args = ap.parse_args()
    errors = check(args.dir)
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    if args.input:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import hf_reference
        with open(args.out, "w") as f:
            json.dump(hf_reference.forward(args.dir, json.load(open(args.input))), f)
    print("ok")


if __name__ == "__main__":
    main()
