#!/usr/bin/python3
"""PyTorch eager peer of `smx bench`: BERT and Sparse Mixer written the usual PyTorch way.

Same architectures and shapes as smx (docs/design.md §1-3): post-LN blocks, q/k/v/out attention,
Linear mixing W_s . X . W_h, Fourier/Hartley through torch.fft, tanh-GELU MLPs, experts-choose
MoE by top-k over each group's tokens, gather -> batched expert GEMM (bmm) -> index_add scatter,
and the MLM (tied to the word embeddings) + NSP pre-training heads with torch.optim.AdamW.

`smx bench --peer` starts it once with --serve and drives it over a pipe, one JSON line per
request (build case X, run one step of case X; see serve()), so that each of its steps runs right
after smx's step of the same case. By hand, a spec file in, ms/example as JSON out:
  /usr/bin/python3 bench/peers/torch_peer.py --spec spec.json --out out.json
spec: {"batch", "seq_len", "repeats", "warmup", "threads", "dtype": "fp32"|"bf16",
       "inference", "training", "seed", "cases": [{"label", "config": {smx config keys},
       "seq_len", "real_length"}]}
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def is_replacement(layer, num_layers, n, layout):
    if layout == "BOTTOM":
        return layer < n
    if layout == "MIDDLE":
        return num_layers - n <= 2 * layer < num_layers + n
    if layout == "MIXED":
        return n > 0 and layer % (num_layers // n) == 0
    return layer >= num_layers - n  # TOP


class LayerNorm(nn.LayerNorm):
    """fp32 LayerNorm: CPU autocast in 1.13 leaves layer_norm out, and it rejects bf16 inputs."""

    def __init__(self, d):
        super().__init__(d, eps=1e-12)

    def forward(self, x):
        return super().forward(x.float())


class Attention(nn.Module):
    def __init__(self, d, heads, p):
        super().__init__()
        self.query, self.key, self.value, self.out = (nn.Linear(d, d) for _ in range(4))
        self.heads, self.p = heads, p

    def forward(self, x, valid):
        b, n, d = x.shape
        h = self.heads

        def split(t):
            return t.view(b, n, h, d // h).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // h)
        mask = (valid[:, :, None] & valid[:, None, :])[:, None]
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        probs = F.dropout(scores.softmax(-1), self.p, self.training)
        return self.out((probs @ v).transpose(1, 2).reshape(b, n, d))


class LinearMixing(nn.Module):
    def __init__(self, n_max, d):
        super().__init__()
        self.input_kernel = nn.Parameter(torch.randn(n_max, n_max) * 0.02)
        self.hidden_kernel = nn.Parameter(torch.randn(d, d) * 0.02)

    def forward(self, x, valid):
        n = x.shape[1]
        return self.input_kernel[:n, :n] @ (x @ self.hidden_kernel)


class FourierMixing(nn.Module):
    def __init__(self, n_max, hartley):
        super().__init__()
        self.n_max, self.hartley = n_max, hartley

    def forward(self, x, valid):
        z = torch.fft.fft2(x.float(), s=(self.n_max, x.shape[2]), dim=(1, 2))[:, : x.shape[1]]
        return (z.real - z.imag) if self.hartley else z.real


class Mlp(nn.Module):
    def __init__(self, d, f, p):
        super().__init__()
        self.intermediate, self.output, self.p = nn.Linear(d, f), nn.Linear(f, d), p

    def forward(self, x):
        h = F.gelu(self.intermediate(x), approximate="tanh")
        return F.dropout(self.output(h), self.p, self.training)


class MoeLayer(nn.Module):
    """Experts-choose routing: each expert takes its top-C tokens of the group by probability."""

    def __init__(self, c):
        super().__init__()
        d, e, f = c["d_model"], c["num_experts"], c["expert_d_ff"]
        self.router = nn.Linear(d, e)
        self.w1 = nn.Parameter(torch.randn(e, d, f) * 0.02)
        self.b1 = nn.Parameter(torch.zeros(e, 1, f))
        self.w2 = nn.Parameter(torch.randn(e, f, d) * 0.02)
        self.b2 = nn.Parameter(torch.zeros(e, 1, d))
        self.c = c

    def forward(self, x):
        c = self.c
        b, n, d = x.shape
        e, t = c["num_experts"], b * n
        tokens = x.reshape(t, d)
        with torch.autocast("cpu", enabled=False):
            logits = self.router(tokens.float())
        probs = logits.softmax(-1)
        groups = c["routing_groups"]  # "tokens:4096" or "sequence"
        g = max(1, t // int(groups.split(":")[1])) if groups.startswith("tokens:") else b
        while t % g:
            g += 1
        s = t // g
        cf = c["train_capacity_factor"] if self.training else c["eval_capacity_factor"]
        cap = min(s, max(c["min_expert_capacity"], round(cf * s / e)))
        weight, idx = probs.view(g, s, e).transpose(1, 2).topk(cap, dim=-1)  # [G, E, C]
        idx = (idx + torch.arange(g).view(g, 1, 1) * s).transpose(0, 1).reshape(e, g * cap)
        buf = tokens[idx.reshape(-1)].view(e, g * cap, d)
        h = F.gelu(torch.baddbmm(self.b1, buf, self.w1), approximate="tanh")
        y = F.dropout(torch.baddbmm(self.b2, h, self.w2), c["expert_dropout_rate"], self.training)
        y = y * weight.transpose(0, 1).reshape(e, g * cap, 1).to(y.dtype)
        out = torch.zeros(t, d, dtype=y.dtype).index_add_(0, idx.reshape(-1), y.reshape(-1, d))
        z_loss = torch.logsumexp(logits, -1).square().mean()
        return out.view(b, n, d), z_loss


class Block(nn.Module):
    def __init__(self, c, layer):
        super().__init__()
        d, arch = c["d_model"], c["model_arch"]
        attention = arch == "bert" or is_replacement(
            layer, c["num_layers"], c["num_attention_layers"], c["attention_layout"])
        if attention:
            self.mixing = Attention(d, c["num_heads"], c["mixing_dropout_rate"])
        elif arch == "linear":
            self.mixing = LinearMixing(c["max_seq_len"], d)
        elif arch in ("f_net", "h_net"):
            self.mixing = FourierMixing(c["max_seq_len"], arch == "h_net")
        else:
            raise NotImplementedError(f"mixing {arch}")
        self.mixing_layer_norm = LayerNorm(d)
        self.moe = MoeLayer(c) if is_replacement(
            layer, c["num_layers"], c["num_moe_layers"], c["moe_layout"]) else None
        self.feed_forward = None if self.moe else Mlp(d, c["d_ff"], c["dropout_rate"])
        self.output_layer_norm = LayerNorm(d)
        self.masked = c["padding"] == "masked"

    def forward(self, x, valid):
        if self.masked:  # pads zeroed before mixing (routing still sees them: a timing peer)
            x = x * valid[:, :, None].to(x.dtype)
        y = self.mixing_layer_norm(x + self.mixing(x, valid))
        if self.moe is not None:
            m, z = self.moe(y)
            return self.output_layer_norm(y + m), z
        return self.output_layer_norm(y + self.feed_forward(y)), None


class SparseMixer(nn.Module):
    def __init__(self, c):
        super().__init__()
        de, d, v = c["d_emb"], c["d_model"], c["vocab_size"]
        self.word = nn.Parameter(torch.randn(v, de) * 0.02)
        self.position = nn.Parameter(torch.randn(c["max_seq_len"], de) * 0.02)
        self.type_embeddings = nn.Parameter(torch.randn(c["type_vocab_size"], de) * 0.02)
        self.embedding_norm = LayerNorm(de)
        self.hidden_mapping_in = nn.Linear(de, d)
        self.layers = nn.ModuleList(Block(c, l) for l in range(c["num_layers"]))
        self.pooler = nn.Linear(d, d)
        self.mlm_dense = nn.Linear(d, de)
        self.mlm_norm = LayerNorm(de)
        self.mlm_bias = nn.Parameter(torch.zeros(v))
        self.classification = nn.Linear(d, 2)
        self.c = c

    def forward(self, ids, types, positions=None):
        n = ids.shape[1]
        valid = ids != self.c["pad_id"]
        e = F.embedding(ids, self.word) + self.position[:n] + F.embedding(types, self.type_embeddings)
        h = F.dropout(self.hidden_mapping_in(self.embedding_norm(e)), self.c["dropout_rate"],
                      self.training)
        z_losses = []
        for layer in self.layers:
            h, z = layer(h, valid)
            if z is not None:
                z_losses.append(z)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        nsp = self.classification(pooled)
        if positions is None:
            return nsp, None, z_losses
        g = h.gather(1, positions[:, :, None].expand(-1, -1, h.shape[2]))
        u = self.mlm_norm(F.gelu(self.mlm_dense(g), approximate="tanh"))
        return nsp, F.linear(u, self.word, self.mlm_bias), z_losses


def make_batch(c, b, n, real, gen):
    low = 5
    ids = torch.randint(low, c["vocab_size"], (b, n), generator=gen)
    types = torch.zeros(b, n, dtype=torch.long)
    types[:, real // 2:real] = 1
    ids[:, real:] = c["pad_id"]
    p = max(1, min(real - 1, round(80 * real / 512)))
    positions = (torch.rand(b, real - 1, generator=gen).argsort(1)[:, :p] + 1).sort(1).values
    labels = torch.randint(low, c["vocab_size"], (b, p), generator=gen)
    nsp = torch.randint(0, 2, (b,), generator=gen)
    return ids, types, positions, labels, nsp


class Peer:
    """The cases of one run: built once, then timed one step at a time."""

    def __init__(self, threads=0, dtype="fp32", batch=8, seed=0):
        threads = threads or torch.get_num_threads()
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        self.bf16 = dtype == "bf16"
        self.batch = batch
        self.gen = torch.Generator().manual_seed(1000 + seed)
        self.cases = {}
        self.version = f"PyTorch {torch.__version__} eager, {threads} threads"

    def build(self, case):
        """Returns (supported, reason)."""
        c = case["config"]
        try:
            model = SparseMixer(c)
        except NotImplementedError as e:
            return False, str(e)
        n = case["seq_len"]
        real = case.get("real_length") or n
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-6,
                                weight_decay=0.01)
        self.cases[case["label"]] = (model, make_batch(c, self.batch, n, real, self.gen), opt)
        return True, ""

    def run(self, label, mode):
        """One step of `mode` ("inference" or "training") on case `label`: ms per example."""
        model, batch, opt = self.cases[label]
        ids, types, positions, labels, nsp = batch
        if mode == "inference":
            model.eval()
            start = time.perf_counter()
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
                model(ids, types)
        elif mode == "training":
            model.train()
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
                nsp_logits, mlm_logits, z = model(ids, types, positions)
            loss = F.cross_entropy(mlm_logits.float().flatten(0, 1), labels.flatten()) + \
                F.cross_entropy(nsp_logits.float(), nsp)
            if z:
                loss = loss + 1e-4 * torch.stack(z).sum()
            loss.backward()
            opt.step()
        else:
            raise ValueError(f"unknown mode {mode!r}: use inference or training")
        return 1e3 * (time.perf_counter() - start) / self.batch


def stats(xs):
    if not xs:
        return None
    s = sorted(xs)
    m = s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])
    return {"median": m, "min": s[0], "max": s[-1], "samples": xs}


def run_spec(spec_path, out_path):
    """Batch mode: every case and repeat of a spec file, then one JSON report."""
    spec = json.load(open(spec_path))
    peer = Peer(spec.get("threads", 0), spec.get("dtype", "fp32"), spec["batch"],
                spec.get("seed", 0))
    rows = []
    for case in spec["cases"]:
        supported, reason = peer.build(case)
        row = {"label": case["label"], "supported": supported}
        if not supported:
            row["reason"] = reason
        rows.append(row)
    live = [r for r in rows if r["supported"]]
    samples = {r["label"]: {"inference": [], "training": []} for r in live}
    modes = [m for m in ("inference", "training") if spec.get(m, True)]
    warmup, repeats = spec.get("warmup", 1), max(1, spec.get("repeats", 3))
    for r in range(warmup + repeats):
        for mode in modes:
            for row in live:
                ms = peer.run(row["label"], mode)
                if r >= warmup:
                    samples[row["label"]][mode].append(ms)
    for row in live:
        row["inference_ms"] = stats(samples[row["label"]]["inference"])
        row["training_ms"] = stats(samples[row["label"]]["training"])
    out = {"torch": peer.version, "dtype": spec.get("dtype", "fp32"), "cases": rows}
    json.dump(out, open(out_path, "w"), indent=2)


def serve():
    """Pipe mode for `smx bench --peer`: one JSON request per stdin line, one answer per line.

    {"op": "init", "threads", "dtype", "batch", "seed"}  -> {"ok": true, "torch": version}
    {"op": "build", "label", "config", "seq_len", "real_length"}
                                                       -> {"ok": true, "supported", "reason"}
    {"op": "run", "label", "mode": "inference"|"training"} -> {"ok": true, "ms": ms per example}
    {"op": "drop", "label"}                            -> {"ok": true} (frees the case)
    {"op": "quit"}                                     -> exits
    Failures answer {"ok": false, "error": message}. Anything printed goes to stderr.
    """
    out = os.fdopen(os.dup(1), "w")
    sys.stdout = sys.stderr  # stray prints must not break the protocol
    peer = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "quit":
                break
            if op == "init":
                peer = Peer(req.get("threads", 0), req.get("dtype", "fp32"), req["batch"],
                            req.get("seed", 0))
                answer = {"ok": True, "torch": peer.version}
            elif peer is None:
                raise ValueError("the first request must be init")
            elif op == "build":
                supported, reason = peer.build(req)
                answer = {"ok": True, "supported": supported, "reason": reason}
            elif op == "run":
                answer = {"ok": True, "ms": peer.run(req["label"], req["mode"])}
            elif op == "drop":
                peer.cases.pop(req["label"], None)
                answer = {"ok": True}
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as e:  # the caller reports it; this process stays usable
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", help="batch mode: the spec file")
    ap.add_argument("--out", help="batch mode: where the JSON report goes")
    ap.add_argument("--serve", action="store_true",
                    help="pipe mode (smx bench --peer): JSON requests on stdin, answers on stdout")
    args = ap.parse_args()
    if args.serve:
        serve()
    elif args.spec and args.out:
        run_spec(args.spec, args.out)
    else:
        ap.error("pass --serve, or --spec and --out")


if __name__ == "__main__":
    main()
