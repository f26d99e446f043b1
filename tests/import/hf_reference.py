#!/usr/bin/python3
"""Independent fp64 forward of a Hugging Face BERT / FNet folder (tests/import/hf_import_test.cpp).

Written from the documented semantics of transformers' BERT and FNet, without transformers:
  embeddings  LayerNorm(word[ids] + position[0..N-1] + token_type[types]); FNet then a Linear
              projection
  BERT layer  a = LayerNorm(x + Dense(softmax(Q K^T / sqrt(d_head) + mask) V));
              LayerNorm(a + Dense(act(Dense(a))))   (mask: a large negative on padded keys)
  FNet layer  f = LayerNorm(x + Re(FFT2(x)) over (sequence, hidden)); LayerNorm(f + Dense(act(Dense(f))))
  pooled      tanh(Dense(h[:, 0]));  classifier / seq_relationship: Dense(pooled)
  MLM         LayerNorm(act(Dense(h))) @ word^T + bias
act: "gelu" exact erf, "gelu_new" the tanh form. Reads the folder's own files (safetensors by a
small reader here, pytorch_model.bin by torch.load) and writes JSON.

    hf_reference.py --model DIR --input ids.json --out expected.json
"""
import argparse
import json
import math
import os

import numpy as np
import torch

NP = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b:base + end]
        if e["dtype"] == "BF16":
            bits = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(raw, NP[e["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(e["shape"]).copy())
    return out


def read_weights(d):
    if os.path.exists(os.path.join(d, "model.safetensors")):
        return read_safetensors(os.path.join(d, "model.safetensors"))
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        out = {}
        for shard in sorted(set(json.load(open(index))["weight_map"].values())):
            out.update(read_safetensors(os.path.join(d, shard)))
        return out
    return dict(torch.load(os.path.join(d, "pytorch_model.bin"), map_location="cpu"))


def canonical(sd, prefix):
    """Names without the model prefix, LayerNorm weight/bias, cls.predictions.bias."""
    out = {}
    for k, v in sd.items():
        if k.startswith(prefix):
            k = k[len(prefix):]
        if k.endswith("LayerNorm.gamma"):
            k = k[:-5] + "weight"
        if k.endswith("LayerNorm.beta"):
            k = k[:-4] + "bias"
        if k == "cls.predictions.decoder.bias":
            k = "cls.predictions.bias"
        out[k] = v.double() if v.is_floating_point() else v
    return out


def act_fn(name):
    if name == "gelu":
        return lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    c = math.sqrt(2.0 / math.pi)
    return lambda x: 0.5 * x * (1.0 + torch.tanh(c * (x + 0.044715 * x ** 3)))


def forward(d, inputs):
    cfg = json.load(open(os.path.join(d, "config.json")))
    fnet = cfg["model_type"] == "fnet"
    w = canonical(read_weights(d), "fnet." if fnet else "bert.")
    eps = cfg.get("layer_norm_eps", 1e-12)
    act = act_fn(cfg.get("hidden_act", "gelu_new" if fnet else "gelu"))

    def lin(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    def ln(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * w[name + ".weight"] + w[name + ".bias"]

    ids = torch.tensor(inputs["input_ids"])
    types = torch.tensor(inputs["type_ids"])
    B, N = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids] +
         w["embeddings.position_embeddings.weight"][:N].unsqueeze(0) +
         w["embeddings.token_type_embeddings.weight"][types])
    x = ln(x, "embeddings.LayerNorm")
    if fnet:
        x = lin(x, "embeddings.projection")
    mask = torch.tensor(inputs.get("attention_mask", [[1] * N] * B), dtype=torch.float64)
    for l in range(cfg["num_hidden_layers"]):
        h = f"encoder.layer.{l}."
        if fnet:
            a = ln(x + torch.fft.fftn(x, dim=(1, 2)).real, h + "fourier.output.LayerNorm")
        else:
            H = cfg["num_attention_heads"]
            Dh = x.shape[-1] // H

            def heads(t):
                return t.view(B, N, H, Dh).transpose(1, 2)
            q = heads(lin(x, h + "attention.self.query"))
            k = heads(lin(x, h + "attention.self.key"))
            v = heads(lin(x, h + "attention.self.value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(Dh)
            scores = scores + (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float64).min
            ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(B, N, -1)
            a = ln(x + lin(ctx, h + "attention.output.dense"), h + "attention.output.LayerNorm")
        x = ln(a + lin(act(lin(a, h + "intermediate.dense")), h + "output.dense"),
               h + "output.LayerNorm")
    out = {"hidden": x.tolist()}
    if "pooler.dense.weight" in w:
        pooled = torch.tanh(lin(x[:, 0], "pooler.dense"))
        out["pooled"] = pooled.tolist()
        for head in ("classifier", "cls.seq_relationship"):
            if head + ".weight" in w:
                out["logits"] = lin(pooled, head).tolist()
    if "cls.predictions.transform.dense.weight" in w and "mlm_positions" in inputs:
        pos = torch.tensor(inputs["mlm_positions"])
        g = x.gather(1, pos.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        u = ln(act(lin(g, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
        out["mlm_logits"] = (u @ w["embeddings.word_embeddings.weight"].T +
                             w["cls.predictions.bias"]).tolist()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.out, "w") as f:
        json.dump(forward(args.model, json.load(open(args.input))), f)


if __name__ == "__main__":
    main()
