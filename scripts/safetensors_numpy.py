"""Reads a safetensors file into numpy arrays with json + struct (no package needed): the raw
files that `cs231n visualize … --raw` and `cs231n train` write, for the reference scripts."""
import json, struct
import numpy as np


def read_safetensors(path):
    """(tensors by name, metadata) of a safetensors file of F32/F64 tensors."""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    dtypes = {"F32": "<f4", "F64": "<f8"}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"]).copy()
    return tensors, meta
