"""PyTorch reference for `cs231n visualize saliency|guided|deconv --raw FILE`.

Rebuilds the net of a swift-cs231n checkpoint in torch (three-layer-convnet, two-layer, or
fully-connected with none/batchnorm/layernorm; test mode) and recomputes, on the exact inputs
saved in the raw file, what the Swift code saved there:

  gradient.standard   d score_y / d image            (Captum's Saliency before abs)
  saliency            max over channels of |gradient.standard|
  gradient.guided     guided backprop of score_y     (Captum's GuidedBackprop)
  gradient.deconvnet  deconvnet of score_y           (Captum's Deconvolution)
  projection.<rule>   one unit's activation kept, the rest zeroed, sent back with <rule>

The ReLU rules are Captum's, as backward hooks on every nn.ReLU: guided replaces the ReLU's
input gradient by relu(grad_input), deconvnet by relu(grad_output). Prints one line per tensor
with the largest |ours - torch| / max |torch| and CS231n's rel_error, and exits 1 if any
normalised error exceeds 1e-4. safetensors files are parsed with json + numpy (no package needed).

usage: python3 scripts/visualize_reference.py CHECKPOINT.safetensors RAW.safetensors
"""
import json, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors_numpy import read_safetensors


class Net(nn.Module):
    """The checkpoint's net; `layers` maps our layer names to the modules whose outputs they are."""

    def __init__(self, config, params, buffers):
        super().__init__()
        t = lambda name: torch.tensor(params[name], dtype=torch.float64)
        self.kind = config["kind"]
        self.layers = {}
        if self.kind == "three-layer-convnet":
            k = params["W1"].shape[-1]
            self.conv = nn.Conv2d(params["W1"].shape[1], params["W1"].shape[0], k, padding=(k - 1) // 2).double()
            self.conv.weight.data, self.conv.bias.data = t("W1"), t("b1")
            self.relu1, self.pool, self.relu2 = nn.ReLU(), nn.MaxPool2d(2), nn.ReLU()
            self.fc2, self.fc3 = self.linear(t("W2"), t("b2")), self.linear(t("W3"), t("b3"))
            self.layers = {"conv1": self.relu1, "pool1": self.pool, "fc2": self.relu2, "scores": self.fc3}
        else:
            self.hidden = nn.ModuleList()
            count = len(config["hiddenSizes"])
            for i in range(1, count + 1):
                block = nn.Module()
                block.affine = self.linear(t(f"W{i}"), t(f"b{i}"))
                norm = config["normalization"]
                if norm == "batchnorm":
                    block.norm = nn.BatchNorm1d(params[f"W{i}"].shape[1], eps=1e-5).double().eval()
                    block.norm.weight.data, block.norm.bias.data = t(f"gamma{i}"), t(f"beta{i}")
                    block.norm.running_mean.data = torch.tensor(buffers[f"running_mean{i}"], dtype=torch.float64)
                    block.norm.running_var.data = torch.tensor(buffers[f"running_var{i}"], dtype=torch.float64)
                elif norm == "layernorm":
                    block.norm = nn.LayerNorm(params[f"W{i}"].shape[1], eps=1e-5).double()
                    block.norm.weight.data, block.norm.bias.data = t(f"gamma{i}"), t(f"beta{i}")
                else:
                    block.norm = nn.Identity()
                block.relu = nn.ReLU()
                self.hidden.append(block)
                self.layers[f"fc{i}"] = block.relu
            self.out = self.linear(t(f"W{count + 1}"), t(f"b{count + 1}"))
            self.layers["scores"] = self.out

    @staticmethod
    def linear(w, b):
        """Our affine is x·W + b with W (D, M); torch's Linear holds Wᵀ."""
        layer = nn.Linear(w.shape[0], w.shape[1]).double()
        layer.weight.data, layer.bias.data = w.t().contiguous(), b
        return layer

    def forward(self, x):
        if self.kind == "three-layer-convnet":
            h = self.relu2(self.fc2(self.pool(self.relu1(self.conv(x))).flatten(1)))
            return self.fc3(h)
        h = x.flatten(1)
        for block in self.hidden:
            h = block.relu(block.norm(block.affine(h)))
        return self.out(h)


def with_rule(net, rule, body):
    """Runs body with Captum's ReLU override for `rule` hooked on every ReLU."""
    def guided(module, grad_input, grad_output):
        return (F.relu(grad_input[0]),)

    def deconvnet(module, grad_input, grad_output):
        return (F.relu(grad_output[0]),)

    hook = {"guided": guided, "deconvnet": deconvnet}.get(rule)
    handles = [m.register_full_backward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)] if hook else []
    try:
        return body()
    finally:
        for h in handles:
            h.remove()


def input_gradient(net, images, layer, upstream_of, rule):
    """d⟨upstream, layer's output⟩ / d images with `rule`; upstream_of(output) builds the upstream."""
    x = torch.tensor(images, dtype=torch.float64, requires_grad=True)
    captured = {}
    handle = net.layers[layer].register_forward_hook(lambda m, i, o: captured.__setitem__("out", o))

    def body():
        net(x)
        out = captured["out"]
        return torch.autograd.grad(out, x, grad_outputs=upstream_of(out.detach()))[0].numpy()

    try:
        return with_rule(net, rule, body)
    finally:
        handle.remove()


def main(checkpoint_path, raw_path):
    ckpt, meta = read_safetensors(checkpoint_path)
    raw, raw_meta = read_safetensors(raw_path)
    config = json.loads(meta["model.config"])
    latest = raw_meta.get("latest") == "true"
    prefix = "" if latest or not any(k.startswith("best.params.") for k in ckpt) else "best."
    params = {k[len(prefix + "params."):]: v for k, v in ckpt.items() if k.startswith(prefix + "params.")}
    buffers = {k[len(prefix + "buffers."):]: v for k, v in ckpt.items() if k.startswith(prefix + "buffers.")}
    net = Net(config, params, buffers)
    images = raw["images"].astype(np.float64)
    n = images.shape[0]
    references = {}
    if "classes" in raw:
        classes = raw["classes"].astype(np.int64)

        def one_hot(scores):
            upstream = torch.zeros_like(scores)
            upstream[torch.arange(n), torch.tensor(classes)] = 1
            return upstream

        for rule in ("standard", "guided", "deconvnet"):
            if f"gradient.{rule}" in raw or (rule == "standard" and "saliency" in raw):
                references[f"gradient.{rule}"] = input_gradient(net, images, "scores", one_hot, rule)
        if "saliency" in raw:
            g = references["gradient.standard"]
            shape = (n, 3, 32, 32) if g.ndim == 2 else g.shape
            references["saliency"] = np.abs(g.reshape(shape)).max(axis=1)
    layer, channel = raw_meta.get("unit.layer"), raw_meta.get("unit.channel")
    if layer is not None:
        channel = int(channel)
        positions = raw["projection.positions"].astype(np.int64).reshape(n, -1)

        def keep_one(out):
            upstream = torch.zeros_like(out)
            for i in range(n):
                index = (i, channel) + tuple(positions[i]) if out.ndim == 4 else (i, channel)
                upstream[index] = out[index]
            return upstream

        for name in raw:
            if name.startswith("projection.") and name.split(".")[1] in ("standard", "guided", "deconvnet"):
                references[name] = input_gradient(net, images, layer, keep_one, name.split(".")[1])
    worst = 0.0
    for name, reference in references.items():
        ours = raw[name].astype(np.float64).reshape(reference.shape)
        scale = np.abs(reference).max()
        normalised = np.abs(ours - reference).max() / max(scale, 1e-30)
        rel_error = np.max(np.abs(ours - reference) / np.maximum(1e-8, np.abs(ours) + np.abs(reference)))
        worst = max(worst, normalised)
        print(f"{name:24s} {str(reference.shape):18s} max|ours-torch|/max|torch| {normalised:.2e}  rel_error {rel_error:.2e}")
    if not references:
        sys.exit("nothing to compare in " + raw_path)
    print(f"worst normalised error {worst:.2e} ({'ok' if worst < 1e-4 else 'FAILED'})")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
