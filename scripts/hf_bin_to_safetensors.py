#!/usr/bin/python3
"""Writes model.safetensors (or the shards of pytorch_model.bin.index.json as safetensors with a
model.safetensors.index.json) beside a Hugging Face folder's pytorch_model.bin, for `smx import
hf`: LibTorch 1.13's C++ torch.save loader cannot read the OrderedDict state_dicts that
transformers' save_pretrained writes. Tensors keep their dtype; shared tensors are written once
per name (copies), as safetensors requires.

    hf_bin_to_safetensors.py HF_FOLDER
"""
import json
import os
import sys

import torch

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8",
          torch.int8: "I8", torch.bool: "BOOL", torch.int16: "I16"}


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    index = os.path.join(d, "pytorch_model.bin.index.json")
    if os.path.exists(index):
        weight_map = json.load(open(index))["weight_map"]
        new_map = {}
        for shard in sorted(set(weight_map.values())):
            out = shard.replace("pytorch_model", "model").replace(".bin", ".safetensors")
            write_safetensors(os.path.join(d, out),
                              dict(torch.load(os.path.join(d, shard), map_location="cpu")))
            new_map.update({k: out for k, v in weight_map.items() if v == shard})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": new_map}, f, indent=2)
    else:
        sd = torch.load(os.path.join(d, "pytorch_model.bin"), map_location="cpu")
        write_safetensors(os.path.join(d, "model.safetensors"), dict(sd))
    print("wrote safetensors beside the .bin in", d)


if __name__ == "__main__":
    main()
