#!/usr/bin/python3
"""Writes tiny Flax-format checkpoints laid out as the Sparse Mixers releases are (tests/import/).

    python3 scripts/make_flax_fixtures.py [--out tests/import/fixtures]

Format, from reading the reference code (google-research `sparse_mixers/`, Flax `serialization.py`,
`training/checkpoints.py`); docs/importing.md lists what is inferred and what is read:
* A checkpoint file is the msgpack of the train state's state dict (nested maps, string keys).
  An array is msgpack extension 1 holding msgpack [shape, dtype name, C-order bytes]; a numpy
  scalar is extension 3 with the same payload; arrays over 2**30 bytes become a map
  {"__msgpack_chunked_array__": true, "shape": {"0": d0, ...}, "chunks": {"0": flat, ...}}.
  bfloat16 arrays are named "bfloat16", or "void16" when numpy saved them as raw 2-byte voids.
* Parameters live under "params" (optax TrainState: "step", "params", "opt_state") or "target"
  (flax.optim Optimizer: "target", "state": {"step", "param_states"}).
* MoE models save `replicated_checkpoint_<step>` from process 0, with every path matching
  ".*expert.*" replaced by an empty float64 array, and one `shard-PPPPP-of-QQQQQ_checkpoint_<step>`
  per process with the opposite (so the shard's own "step" is empty too). An expert leaf keeps its
  device axis, and the experts of one device sit on axis 1 of each parameter (nn.vmap
  variable_axes={"params": 1}): kernel [devices, D, experts, F], bias [devices, F, experts].
  Global expert = (process * devices + device) * experts_per_device + expert.
* Module names: encoder/{embedder, encoder_l (its two LayerNorms), attention_l/self/{query,key,
  value,out}, linear_transform_l, feed_forward_l, expert_l, router_weights_l/DenseGeneral_0,
  pooler}, predictions_dense, predictions_layer_norm, predictions_output, classification
  (output_kernel [K, D]).

Fixtures (deterministic; fixed seeds and zip timestamps):
  sm_tiny/        Sparse Mixer: optax state, replicated + 2 shards x 2 devices x 2 experts, a
                  chunked word embedding, bf16 pooler kernel and one bf16 expert kernel
  fsm_tiny.zip    Fast Sparse Mixer: flax.optim state, fsm_tiny/{replicated, 2 shards}, a void16
                  type embedding, MoE layers MIXED, attention TOP 2
  bert_tiny/      BERT: one replicated_checkpoint_990 (no shards), step as a plain integer
  bad/            wrong_shape, unknown_param (BERT variants), no_checkpoint.zip
  reference_configs.json  the smx config of each fixture, for the independent forward
"""
import argparse
import json
import os
import zipfile

import msgpack
import numpy as np

VOCAB = 150  # the test tokenizer's size (tests/support/tiny_tokenizer.cpp)

CONFIGS = {
    "sm_tiny": dict(model_arch="linear", vocab_size=VOCAB, type_vocab_size=4, max_seq_len=16,
                    d_emb=12, d_model=16, d_ff=24, num_heads=2, num_layers=4,
                    num_attention_layers=1, attention_layout="TOP", num_moe_layers=2,
                    moe_layout="MIDDLE", num_experts=8, expert_d_ff=8,
                    train_capacity_factor=1.0, eval_capacity_factor=1.0),
    "fsm_tiny": dict(model_arch="linear", vocab_size=VOCAB, type_vocab_size=4, max_seq_len=16,
                     d_emb=16, d_model=16, d_ff=20, num_heads=4, num_layers=4,
                     num_attention_layers=2, attention_layout="TOP", num_moe_layers=2,
                     moe_layout="MIXED", num_experts=4, expert_d_ff=12,
                     train_capacity_factor=0.5, eval_capacity_factor=0.5),
    "bert_tiny": dict(model_arch="bert", vocab_size=VOCAB, type_vocab_size=4, max_seq_len=16,
                      d_emb=16, d_model=16, d_ff=32, num_heads=2, num_layers=2,
                      num_attention_layers=2, attention_layout="TOP", num_moe_layers=0,
                      moe_layout="MIDDLE", num_experts=16, expert_d_ff=2048,
                      train_capacity_factor=1.0, eval_capacity_factor=1.0),
}
COMMON = dict(pad_id=0, dispatch_algorithm="MASK_EXPERTS_CHOOSE", min_expert_capacity=4,
              routing_groups="tokens:4096", padding="reference")


def is_replacement(layer, num_layers, n, layout):
    if layout == "BOTTOM":
        return layer < n
    if layout == "MIDDLE":
        return num_layers - n <= 2 * layer < num_layers + n
    if layout == "MIXED":
        return n > 0 and layer % (num_layers // n) == 0
    return layer >= num_layers - n


class Rng:
    def __init__(self, seed):
        self.g = np.random.default_rng(seed)

    def w(self, *shape, scale=0.2):
        return (self.g.standard_normal(shape) * scale).astype(np.float32)

    def ln(self, d):
        return {"scale": 1.0 + self.w(d, scale=0.1), "bias": self.w(d, scale=0.1)}

    def dense(self, i, o):
        return {"kernel": self.w(i, o), "bias": self.w(o, scale=0.1)}


def make_params(c, seed):
    """The reference's parameter tree; experts as full [E, ...] arrays (sharded later)."""
    r = Rng(seed)
    V, N, T = c["vocab_size"], c["max_seq_len"], c["type_vocab_size"]
    De, D, F, H = c["d_emb"], c["d_model"], c["d_ff"], c["num_heads"]
    E, Fe, L = c["num_experts"], c["expert_d_ff"], c["num_layers"]
    enc = {"embedder": {"word": {"embedding": r.w(V, De)},
                        "position": {"embedding": r.w(1, N, De)},
                        "type": {"embedding": r.w(T, De)},
                        "layer_norm": r.ln(De),
                        "hidden_mapping_in": r.dense(De, D)}}
    for l in range(L):
        enc[f"encoder_{l}"] = {"mixing_layer_norm": r.ln(D), "output_layer_norm": r.ln(D)}
        if c["model_arch"] == "bert" or is_replacement(l, L, c["num_attention_layers"],
                                                        c["attention_layout"]):
            qkv = {n: {"kernel": r.w(D, H, D // H), "bias": r.w(H, D // H, scale=0.1)}
                   for n in ("query", "key", "value")}
            qkv["out"] = {"kernel": r.w(H, D // H, D), "bias": r.w(D, scale=0.1)}
            enc[f"attention_{l}"] = {"self": qkv}
        else:
            enc[f"linear_transform_{l}"] = {"hidden_kernel": r.w(D, D, scale=0.25),
                                            "input_kernel": r.w(N, N, scale=0.25)}
        if is_replacement(l, L, c["num_moe_layers"], c["moe_layout"]):
            enc[f"router_weights_{l}"] = {"DenseGeneral_0": r.dense(D, E)}
            enc[f"expert_{l}"] = {"intermediate": {"kernel": r.w(E, D, Fe),
                                                   "bias": r.w(E, Fe, scale=0.1)},
                                  "output": {"kernel": r.w(E, Fe, D),
                                             "bias": r.w(E, D, scale=0.1)}}
        else:
            enc[f"feed_forward_{l}"] = {"intermediate": r.dense(D, F), "output": r.dense(F, D)}
    enc["pooler"] = r.dense(D, D)
    return {"encoder": enc,
            "predictions_dense": r.dense(D, De),
            "predictions_layer_norm": r.ln(De),
            "predictions_output": {"output_bias": r.w(V, scale=0.1)},
            "classification": {"output_kernel": r.w(2, D), "output_bias": r.w(2, scale=0.1)}}


# ---- tree helpers -------------------------------------------------------------------------------

def map_with_names(tree, fn, prefix=""):
    if isinstance(tree, dict) and "__msgpack_chunked_array__" not in tree:
        return {k: map_with_names(v, fn, f"{prefix}/{k}" if prefix else k) for k, v in tree.items()}
    return fn(prefix, tree)


def get(tree, path):
    for k in path.split("/"):
        tree = tree[k]
    return tree


def put(tree, path, value):
    keys = path.split("/")
    for k in keys[:-1]:
        tree = tree[k]
    tree[keys[-1]] = value


def is_expert(name):
    return "expert" in name  # the reference's sharded_match_fn: regex "^.*expert.*"


def to_bf16(a):
    """Round-to-nearest-even fp32 -> bfloat16 bits, as uint16."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return bits.astype(np.uint16)


class Bf16:
    """An array stored as bfloat16 under a given dtype name ("bfloat16" or "void16")."""

    def __init__(self, values, name="bfloat16"):
        self.bits, self.shape, self.name = to_bf16(values), values.shape, name


def chunked(a, pieces):
    flat = a.reshape(-1)
    size = -(-flat.size // pieces)
    return {"__msgpack_chunked_array__": True,
            "shape": {str(i): int(d) for i, d in enumerate(a.shape)},
            "chunks": {str(i): flat[i * size:(i + 1) * size] for i in range(pieces)}}


def ext_pack(x):
    if isinstance(x, Bf16):
        payload = msgpack.packb((list(x.shape), x.name, x.bits.tobytes()), use_bin_type=True)
        return msgpack.ExtType(1, payload)
    if isinstance(x, np.ndarray):
        payload = msgpack.packb((list(x.shape), x.dtype.name, x.tobytes("C")), use_bin_type=True)
        return msgpack.ExtType(1, payload)
    if isinstance(x, np.generic):
        a = np.asarray(x)
        payload = msgpack.packb((list(a.shape), a.dtype.name, a.tobytes("C")), use_bin_type=True)
        return msgpack.ExtType(3, payload)
    raise TypeError(f"cannot pack {type(x)}")


def write(path, state):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(msgpack.packb(state, default=ext_pack, strict_types=True, use_bin_type=True))


def empty():
    return np.array([])  # float64, shape (0,): what the reference saves for the other file's leaves


def zeros_like_tree(tree):
    return map_with_names(tree, lambda _, v: np.zeros(v.shape, np.float32)
                          if isinstance(v, np.ndarray) else v)


def device_stack(full, first, devices, per_device):
    """Experts [first, first + devices * per_device) of a full [E, ...] array, as the process saves
    them: [devices, ...] with each device's experts on axis 1 of the per-expert shape."""
    out = []
    for d in range(devices):
        ex = [full[first + d * per_device + e] for e in range(per_device)]
        out.append(np.stack(ex, axis=1) if ex[0].ndim >= 1 else np.stack(ex))
    return np.stack(out).astype(np.float32)


def sharded_files(state, step, processes, devices, per_device, adjust=None):
    """{file name: state} for a replicated file and one shard per process."""
    files = {}
    replicated = map_with_names(state, lambda n, v: empty() if is_expert(n) else v)
    files[f"replicated_checkpoint_{step}"] = replicated
    for p in range(processes):
        first = p * devices * per_device

        def leaf(n, v, first=first):
            if not is_expert(n):
                return empty()
            return device_stack(v, first, devices, per_device)

        shard = map_with_names(state, leaf)
        if adjust:
            adjust(p, shard)
        files[f"shard-{p:05d}-of-{processes:05d}_checkpoint_{step}"] = shard
    return files


# ---- the fixtures -------------------------------------------------------------------------------

def sm_tiny(out):
    c = CONFIGS["sm_tiny"]
    params = make_params(c, seed=1)
    state = {"step": np.asarray(np.int32(1001)), "params": params,
             "opt_state": {"0": {"count": np.asarray(np.int32(1001)),
                                 "mu": zeros_like_tree(params), "nu": zeros_like_tree(params)},
                           "1": {}, "2": {"count": np.asarray(np.int32(1001))}}}

    def adjust(p, shard):
        if p == 1:  # one expert kernel of the second process stored as bfloat16
            name = "params/encoder/expert_1/intermediate/kernel"
            put(shard, name, Bf16(get(shard, name)))

    files = sharded_files(state, 1000, processes=2, devices=2, per_device=2, adjust=adjust)
    rep = files["replicated_checkpoint_1000"]
    word = get(rep, "params/encoder/embedder/word/embedding")
    put(rep, "params/encoder/embedder/word/embedding", chunked(word, 3))
    put(rep, "params/encoder/pooler/kernel", Bf16(get(rep, "params/encoder/pooler/kernel")))
    for name, st in files.items():
        write(os.path.join(out, "sm_tiny", name), st)


def fsm_tiny(out):
    c = CONFIGS["fsm_tiny"]
    params = make_params(c, seed=2)
    moments = map_with_names(params, lambda _, v: {"grad_ema": np.zeros(v.shape, np.float32),
                                                   "grad_sq_ema": np.zeros(v.shape, np.float32)})
    state = {"target": params, "state": {"step": np.int64(2000), "param_states": moments}}
    files = sharded_files(state, 2000, processes=2, devices=1, per_device=2)
    rep = files["replicated_checkpoint_2000"]
    put(rep, "target/encoder/embedder/type/embedding",
        Bf16(get(rep, "target/encoder/embedder/type/embedding"), name="void16"))
    staging = os.path.join(out, ".fsm_staging")
    for name, st in files.items():
        write(os.path.join(staging, name), st)
    with zipfile.ZipFile(os.path.join(out, "fsm_tiny.zip"), "w") as z:
        for i, name in enumerate(sorted(files)):
            info = zipfile.ZipInfo(f"fsm_tiny/{name}", date_time=(2022, 5, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if i % 2 == 0 else zipfile.ZIP_STORED
            with open(os.path.join(staging, name), "rb") as f:
                z.writestr(info, f.read())
    for name in files:
        os.remove(os.path.join(staging, name))
    os.rmdir(staging)


def bert_state(seed=3):
    params = make_params(CONFIGS["bert_tiny"], seed=seed)
    return {"step": 991, "params": params,
            "opt_state": {"0": {"count": np.asarray(np.int32(991)),
                                "mu": zeros_like_tree(params), "nu": zeros_like_tree(params)},
                          "1": {}, "2": {"count": np.asarray(np.int32(991))}}}


def bert_tiny(out):
    write(os.path.join(out, "bert_tiny", "replicated_checkpoint_990"), bert_state())


def bad(out):
    state = bert_state()
    del state["opt_state"]  # keeps the committed files small; the importer never reads it
    put(state, "params/encoder/pooler/kernel", np.zeros((16, 17), np.float32))
    write(os.path.join(out, "bad", "wrong_shape", "replicated_checkpoint_990"), state)
    state = bert_state()
    del state["opt_state"]
    put(state, "params/encoder/mystery_0", {"kernel": np.zeros((16, 16), np.float32)})
    write(os.path.join(out, "bad", "unknown_param", "replicated_checkpoint_990"), state)
    with zipfile.ZipFile(os.path.join(out, "bad", "no_checkpoint.zip"), "w") as z:
        info = zipfile.ZipInfo("sm_base/README.txt", date_time=(2022, 5, 1, 0, 0, 0))
        z.writestr(info, b"no checkpoint in here\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                  "import", "fixtures"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sm_tiny(args.out)
    fsm_tiny(args.out)
    bert_tiny(args.out)
    bad(args.out)
    configs = {k: dict(name=k, **v, **COMMON) for k, v in CONFIGS.items()}
    with open(os.path.join(args.out, "reference_configs.json"), "w") as f:
        json.dump(configs, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
