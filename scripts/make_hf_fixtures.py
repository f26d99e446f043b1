#!/usr/bin/python3
"""Tiny Hugging Face BERT / FNet model folders for tests/import/hf_import_test.cpp.

Writes one folder per case under --out: config.json, weights (model.safetensors, sharded
safetensors with model.safetensors.index.json, or pytorch_model.bin written by torch.save) and,
for BERT, vocab.txt. Tensor names, shapes and layouts follow transformers' modeling_bert.py /
modeling_fnet.py (nn.Linear weight [out, in]); values are random with a fixed seed. transformers
is not needed (nor installed): the state dicts are built by name here.

    make_hf_fixtures.py --out DIR [--case NAME ...]
"""
import argparse
import json
import os
import shutil

import torch

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "movie", "film", "was",
         "is", "good", "bad", "great", "awful", "not", "very", "plot", "actor", "fun",
         "boring", "and", "but", "i", "it", "loved", "hated", "this", "story", "##s",
         "##ly", "##ing", ".", ",", "!", "?", "'", "cat", "dog", "man", "woman", "effect",
         "cause", "because", "so", "what", "happened", "as", "result", "rain", "sun", "ran",
         "fell", "broke", "glass", "water", "he", "she", "they", "went"]

HIDDEN, FF, LAYERS, HEADS, POSITIONS = 16, 32, 2, 2, 16

# name: (architecture, storage, prefixed, dtype, extras)
CASES = {
    "bert_model_st": ("BertModel", "safetensors", False, "float32", {}),
    "bert_pretraining_bin": ("BertForPreTraining", "bin", True, "float32", {"buffers": True}),
    "bert_mlm_legacy_st": ("BertForMaskedLM", "safetensors", True, "float16",
                           {"gamma_beta": True, "decoder_bias_only": True}),
    "bert_cls_sharded": ("BertForSequenceClassification", "sharded", True, "bfloat16",
                         {"labels": ["negative", "neutral", "positive"]}),
    "bert_cls_st": ("BertForSequenceClassification", "safetensors", True, "float32",
                    {"labels": ["negative", "positive"]}),
    "bert_regression_bin": ("BertForSequenceClassification", "bin", True, "float32",
                            {"labels": ["LABEL_0"]}),
    "fnet_model_bin": ("FNetModel", "bin", False, "float32", {"buffers": True}),
    "fnet_pretraining_st": ("FNetForPreTraining", "safetensors", True, "float32", {}),
    "fnet_mlm_st": ("FNetForMaskedLM", "safetensors", True, "float16", {}),
    "fnet_cls_sharded": ("FNetForSequenceClassification", "sharded", True, "float32",
                         {"labels": ["no", "yes"]}),
    # With the tiny FNet SentencePiece model of tests/tokenizer/fixtures/fnet_tiny (110 pieces,
    # <pad> 0): spiece.model is copied into the import and text runs end to end.
    "fnet_cls_spiece": ("FNetForSequenceClassification", "safetensors", True, "float32",
                        {"labels": ["no", "yes"], "spiece": True}),
}

SPIECE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tokenizer",
                          "fixtures", "fnet_tiny")
SPIECE_VOCAB, SPIECE_PAD = 110, 0


def vocab_size(extras):
    return SPIECE_VOCAB if extras.get("spiece") else len(VOCAB)

DTYPES = {"float32": (torch.float32, "F32"), "float16": (torch.float16, "F16"),
          "bfloat16": (torch.bfloat16, "BF16"), "int64": (torch.int64, "I64")}


def config_for(arch, extras):
    fnet = arch.startswith("FNet")
    c = {"architectures": [arch], "model_type": "fnet" if fnet else "bert",
         "vocab_size": vocab_size(extras), "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
         "intermediate_size": FF, "hidden_act": "gelu_new" if fnet else "gelu",
         "hidden_dropout_prob": 0.1, "max_position_embeddings": POSITIONS,
         "type_vocab_size": 4 if fnet else 2, "initializer_range": 0.02,
         "layer_norm_eps": 1e-12,
         "pad_token_id": SPIECE_PAD if extras.get("spiece") else 3 if fnet else 0,
         "torch_dtype": "float32"}
    if fnet:
        c.update({"use_tpu_fourier_optimizations": False, "tpu_short_seq_length": POSITIONS,
                  "bos_token_id": 1, "eos_token_id": 2})
    else:
        c.update({"num_attention_heads": HEADS, "attention_probs_dropout_prob": 0.1,
                  "position_embedding_type": "absolute"})
    labels = extras.get("labels")
    if labels:
        c["id2label"] = {str(i): l for i, l in enumerate(labels)}
        c["label2id"] = {l: i for i, l in enumerate(labels)}
    return c


def state_dict_for(arch, prefixed, extras, gen):
    """Name -> fp32 tensor, as the HF model's state_dict() names them."""
    fnet = arch.startswith("FNet")
    V, T = vocab_size(extras), (4 if fnet else 2)
    p = ("fnet." if fnet else "bert.") if prefixed else ""

    def rnd(*shape, scale=0.3):
        return torch.randn(*shape, generator=gen) * scale

    def linear(name, out_f, in_f):
        sd[name + ".weight"] = rnd(out_f, in_f)
        sd[name + ".bias"] = rnd(out_f, scale=0.1)

    def norm(name, d):
        sd[name + ".weight"] = 1.0 + rnd(d, scale=0.1)
        sd[name + ".bias"] = rnd(d, scale=0.1)

    sd = {}
    sd[p + "embeddings.word_embeddings.weight"] = rnd(V, HIDDEN)
    sd[p + "embeddings.position_embeddings.weight"] = rnd(POSITIONS, HIDDEN)
    sd[p + "embeddings.token_type_embeddings.weight"] = rnd(T, HIDDEN)
    norm(p + "embeddings.LayerNorm", HIDDEN)
    if fnet:
        linear(p + "embeddings.projection", HIDDEN, HIDDEN)
    if extras.get("buffers"):
        sd[p + "embeddings.position_ids"] = torch.arange(POSITIONS).unsqueeze(0)
    for l in range(LAYERS):
        h = f"{p}encoder.layer.{l}."
        if fnet:
            norm(h + "fourier.output.LayerNorm", HIDDEN)
        else:
            for n in ("query", "key", "value"):
                linear(h + "attention.self." + n, HIDDEN, HIDDEN)
            linear(h + "attention.output.dense", HIDDEN, HIDDEN)
            norm(h + "attention.output.LayerNorm", HIDDEN)
        linear(h + "intermediate.dense", FF, HIDDEN)
        linear(h + "output.dense", HIDDEN, FF)
        norm(h + "output.LayerNorm", HIDDEN)
    head = arch[4:] if fnet else arch[4:]
    if not (head == "ForMaskedLM" and not fnet):  # BertForMaskedLM has no pooler
        linear(p + "pooler.dense", HIDDEN, HIDDEN)
    if head in ("ForPreTraining", "ForMaskedLM"):
        linear("cls.predictions.transform.dense", HIDDEN, HIDDEN)
        norm("cls.predictions.transform.LayerNorm", HIDDEN)
        sd["cls.predictions.bias"] = rnd(V, scale=0.1)
    if head == "ForPreTraining":
        linear("cls.seq_relationship", 2, HIDDEN)
    if head == "ForSequenceClassification":
        linear("classifier", len(extras["labels"]), HIDDEN)
    return sd


def stored_names(sd, arch, storage, extras):
    """The names as the file keeps them: tied decoder, decoder.bias, gamma/beta variants."""
    out = dict(sd)
    if "cls.predictions.bias" in out:
        if storage == "bin":  # torch.save keeps the tied tensors under both names
            out["cls.predictions.decoder.weight"] = out[
                [k for k in out if k.endswith("embeddings.word_embeddings.weight")][0]]
            out["cls.predictions.decoder.bias"] = out["cls.predictions.bias"]
        elif extras.get("decoder_bias_only"):  # safetensors keeps one of the shared names
            out["cls.predictions.decoder.bias"] = out.pop("cls.predictions.bias")
    if extras.get("gamma_beta"):
        out = {(k[:-6] + "gamma" if "LayerNorm.weight" in k else
                k[:-4] + "beta" if "LayerNorm.bias" in k else k): v for k, v in out.items()}
    return out


def safetensors_bytes(tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype_name = [n for d, n in DTYPES.values() if d == t.dtype][0]
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else \
            t.numpy().tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(blobs)


def write_case(out, name):
    arch, storage, prefixed, dtype, extras = CASES[name]
    gen = torch.Generator().manual_seed(sum(map(ord, name)))
    sd = state_dict_for(arch, prefixed, extras, gen)
    # Stored dtype: the fp32 values rounded once (the reference reads the files back).
    store = DTYPES[dtype][0]
    sd = {k: (v.to(store) if v.is_floating_point() else v) for k, v in sd.items()}
    files = stored_names(sd, arch, storage, extras)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    cfg = config_for(arch, extras)
    cfg["torch_dtype"] = dtype
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if storage == "safetensors":
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes(files))
    elif storage == "sharded":
        names = sorted(files)
        half = len(names) // 2
        shards = {"model-00001-of-00002.safetensors": names[:half],
                  "model-00002-of-00002.safetensors": names[half:]}
        weight_map = {}
        for shard, keys in shards.items():
            with open(os.path.join(d, shard), "wb") as f:
                f.write(safetensors_bytes({k: files[k] for k in keys}))
            weight_map.update({k: shard for k in keys})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    else:
        # A plain dict: LibTorch 1.13's loader reads no OrderedDict (docs/importing.md).
        torch.save(dict(files), os.path.join(d, "pytorch_model.bin"))
    if extras.get("spiece"):
        for name in ("spiece.model", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(SPIECE_DIR, name), os.path.join(d, name))
    if not arch.startswith("FNet"):
        with open(os.path.join(d, "vocab.txt"), "w") as f:
            f.write("\n".join(VOCAB) + "\n")
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--ordered-dict-bin", help="also write an OrderedDict pytorch_model.bin "
                    "(as save_pretrained does) into this folder, for the loader's error")
    args = ap.parse_args()
    for name in args.case or sorted(CASES):
        write_case(args.out, name)
    if args.ordered_dict_bin:
        import collections
        os.makedirs(args.ordered_dict_bin, exist_ok=True)
        torch.save(collections.OrderedDict(w=torch.zeros(2)),
                   os.path.join(args.ordered_dict_bin, "pytorch_model.bin"))


if __name__ == "__main__":
    main()
