#!/usr/bin/python3
"""Independent eval-mode forward of a Flax Sparse Mixers checkpoint (tests/import).

Reads the checkpoint files itself (python msgpack + numpy, not smx), stitches the expert shards,
loads the weights into the repo's PyTorch eager model (bench/peers/torch_peer.py) and writes
hidden, pooled, NSP and MLM outputs as JSON for the C++ test to compare with smx's import.

    torch_reference.py --checkpoint DIR|ZIP --config reference_configs.json:NAME \
        --input ids.json --out expected.json
"""
import argparse
import io
import json
import os
import re
import sys
import zipfile

import msgpack
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers"))
import torch_peer  # noqa: E402


def decode_array(payload):
    shape, dtype, data = msgpack.unpackb(payload, raw=False)
    if dtype in ("bfloat16", "void16"):
        bits = np.frombuffer(data, np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    return np.frombuffer(data, np.dtype(dtype)).reshape(shape).astype(np.float32)


def ext_hook(code, payload):
    if code in (1, 3):
        return decode_array(payload)
    raise ValueError(f"unknown extension {code}")


def unchunk(tree):
    if isinstance(tree, dict):
        if "__msgpack_chunked_array__" in tree:
            shape = [tree["shape"][str(i)] for i in range(len(tree["shape"]))]
            flat = np.concatenate([tree["chunks"][str(i)] for i in range(len(tree["chunks"]))])
            return flat.reshape(shape)
        return {k: unchunk(v) for k, v in tree.items()}
    return tree


def read_files(path):
    """{file name: bytes} of the checkpoint files in a folder or zip."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return {os.path.basename(n): z.read(n) for n in z.namelist() if "checkpoint_" in n}
    return {n: open(os.path.join(path, n), "rb").read() for n in os.listdir(path)
            if "checkpoint_" in n}


def params_of(state):
    return state["params"] if "params" in state else state["target"]


def load_params(path):
    files = read_files(path)
    replicated = [n for n in files if n.startswith("replicated_checkpoint_")]
    shards = sorted(n for n in files if n.startswith("shard-"))
    rep = params_of(unchunk(msgpack.unpackb(files[replicated[0]], raw=False, ext_hook=ext_hook)))
    enc = rep["encoder"]
    for name in shards:
        shard = params_of(unchunk(msgpack.unpackb(files[name], raw=False, ext_hook=ext_hook)))
        for key, module in shard["encoder"].items():
            if not key.startswith("expert_"):
                continue
            for part in ("intermediate", "output"):
                for leaf in ("kernel", "bias"):
                    a = module[part][leaf]  # [devices, first dim, experts per device, ...]
                    a = np.moveaxis(a, 2, 1).reshape((-1,) + a.shape[1:2] + a.shape[3:])
                    prev = enc[key][part][leaf]
                    enc[key][part][leaf] = a if prev.size == 0 else np.concatenate([prev, a])
    return rep


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def load_into(model, p, c):
    enc = p["encoder"]
    emb = enc["embedder"]
    D = c["d_model"]
    with torch.no_grad():
        model.word.copy_(t(emb["word"]["embedding"]))
        model.position.copy_(t(emb["position"]["embedding"][0]))
        model.type_embeddings.copy_(t(emb["type"]["embedding"]))
        model.embedding_norm.weight.copy_(t(emb["layer_norm"]["scale"]))
        model.embedding_norm.bias.copy_(t(emb["layer_norm"]["bias"]))

        def linear(mod, d):
            mod.weight.copy_(t(d["kernel"]).T)
            mod.bias.copy_(t(d["bias"]))

        linear(model.hidden_mapping_in, emb["hidden_mapping_in"])
        for l, block in enumerate(model.layers):
            lns = enc[f"encoder_{l}"]
            for name in ("mixing_layer_norm", "output_layer_norm"):
                getattr(block, name).weight.copy_(t(lns[name]["scale"]))
                getattr(block, name).bias.copy_(t(lns[name]["bias"]))
            if f"attention_{l}" in enc:
                a = enc[f"attention_{l}"]["self"]
                for name in ("query", "key", "value"):
                    getattr(block.mixing, name).weight.copy_(
                        t(a[name]["kernel"].reshape(D, D)).T)
                    getattr(block.mixing, name).bias.copy_(t(a[name]["bias"].reshape(D)))
                block.mixing.out.weight.copy_(t(a["out"]["kernel"].reshape(D, D)).T)
                block.mixing.out.bias.copy_(t(a["out"]["bias"]))
            else:
                m = enc[f"linear_transform_{l}"]
                block.mixing.input_kernel.copy_(t(m["input_kernel"]))
                block.mixing.hidden_kernel.copy_(t(m["hidden_kernel"]))
            if block.moe is not None:
                linear(block.moe.router, enc[f"router_weights_{l}"]["DenseGeneral_0"])
                x = enc[f"expert_{l}"]
                block.moe.w1.copy_(t(x["intermediate"]["kernel"]))
                block.moe.b1.copy_(t(x["intermediate"]["bias"])[:, None, :])
                block.moe.w2.copy_(t(x["output"]["kernel"]))
                block.moe.b2.copy_(t(x["output"]["bias"])[:, None, :])
            else:
                linear(block.feed_forward.intermediate, enc[f"feed_forward_{l}"]["intermediate"])
                linear(block.feed_forward.output, enc[f"feed_forward_{l}"]["output"])
        linear(model.pooler, enc["pooler"])
        linear(model.mlm_dense, p["predictions_dense"])
        model.mlm_norm.weight.copy_(t(p["predictions_layer_norm"]["scale"]))
        model.mlm_norm.bias.copy_(t(p["predictions_layer_norm"]["bias"]))
        model.mlm_bias.copy_(t(p["predictions_output"]["output_bias"]))
        model.classification.weight.copy_(t(p["classification"]["output_kernel"]))
        model.classification.bias.copy_(t(p["classification"]["output_bias"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--config", required=True, help="FILE:NAME")
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    file, name = args.config.rsplit(":", 1)
    c = dict(json.load(open(file))[name])
    c.update(dropout_rate=0.0, mixing_dropout_rate=0.0, expert_dropout_rate=0.0)
    torch.manual_seed(0)
    model = torch_peer.SparseMixer(c)
    load_into(model, load_params(args.checkpoint), c)
    model.eval()

    inp = json.load(open(args.input))
    n = c["max_seq_len"]  # reference padding: every batch is padded to max_seq_len
    ids = torch.full((len(inp["input_ids"]), n), c["pad_id"], dtype=torch.long)
    types = torch.zeros_like(ids)
    for b, row in enumerate(inp["input_ids"]):
        ids[b, :len(row)] = torch.tensor(row)
        types[b, :len(row)] = torch.tensor(inp["type_ids"][b])
    positions = torch.tensor(inp["masked_lm_positions"])
    with torch.no_grad():
        valid = ids != c["pad_id"]
        e = (F.embedding(ids, model.word) + model.position[:n] +
             F.embedding(types, model.type_embeddings))
        h = model.hidden_mapping_in(model.embedding_norm(e))
        for layer in model.layers:
            h, _ = layer(h, valid)
        pooled = torch.tanh(model.pooler(h[:, 0]))
        nsp = model.classification(pooled)
        g = h.gather(1, positions[:, :, None].expand(-1, -1, h.shape[2]))
        u = model.mlm_norm(F.gelu(model.mlm_dense(g), approximate="tanh"))
        mlm = F.linear(u, model.word, model.mlm_bias)
    out = {"hidden": h.tolist(), "pooled": pooled.tolist(), "nsp_logits": nsp.tolist(),
           "mlm_logits": mlm.tolist()}
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
