"""PyTorch reference for `cs231n train --model cnn`: the same net and recipe, in torch on the CPU
(float32, 2 threads), on the same CS231n split (train = images 0..48,999, val = 49,000..49,999),
to tell what this split allows from what our implementation does.

It follows the published airbench94 recipe, which `--model cnn` implements:
  inputs      per-channel standardization (CIFAR-10's published mean and std)
  whitening   2x2 conv 3 -> 24 from the eigenvectors of the covariance of 2x2 patches of the
              first 5,000 training images (+/- pairs, eps 5e-4), frozen; its bias trains for 3 epochs
  groups      64/256/256: conv3x3 -> maxpool 2 -> BN -> GELU -> conv3x3 -> BN -> GELU
              (BN momentum 0.6 in airbench's convention, eps 1e-12, weight frozen at 1;
              convs without bias, default init with dirac on the first in_channels filters)
  head        maxpool 3 -> linear 256 -> 10 without bias -> x 1/9
  loss        cross-entropy with label smoothing 0.2, summed over the batch
  optimizer   SGD-Nesterov momentum 0.85, lr 11.5 / kilostep, weight decay 0.0153 * batch /
              kilostep (kilostep = 1024 * (1 + 1/(1 - 0.85))), BN biases at 64x the lr
  schedule    0.2 -> 1 over the first 23% of the steps, then down to 0.07
  lookahead   every 5 steps toward an average kept with 0.95^5 * (step/total)^3, ending on it
  data        batch 1024 (last partial batch dropped), 9.9 epochs; each image flipped at random
              once and then every other epoch; 2-pixel reflect-padded random shifts per image
  test        mirror + 1-pixel shifts averaged (airbench's TTA level 2)

Prints val accuracy without and with TTA after each epoch. Takes about an hour on 2 cores.
usage: python3 scripts/cnn_reference.py [SEED] [EPOCHS]   (CIFAR10_DIR: the binary batches)
"""
import math, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
epochs = float(sys.argv[2]) if len(sys.argv) > 2 else 9.9
torch.manual_seed(seed)

folder = os.environ.get("CIFAR10_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                     "cifar-10-batches-bin"))
raw = np.concatenate([np.fromfile(os.path.join(folder, f"data_batch_{i}.bin"), dtype=np.uint8).reshape(-1, 3073)
                      for i in range(1, 6)])
images = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()).float() / 255
labels = torch.from_numpy(raw[:, 0].astype(np.int64))
mean = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)
std = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1)
images = (images - mean) / std
x_train, y_train, x_val, y_val = images[:49000], labels[:49000], images[49000:50000], labels[49000:50000]


class BatchNorm(nn.BatchNorm2d):
    def __init__(self, channels):
        super().__init__(channels, eps=1e-12, momentum=1 - 0.6)
        self.weight.requires_grad = False


class Conv(nn.Conv2d):
    def __init__(self, cin, cout, kernel=3, padding="same", bias=False):
        super().__init__(cin, cout, kernel_size=kernel, padding=padding, bias=bias)

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        torch.nn.init.dirac_(self.weight.data[:self.weight.size(1)])


class ConvGroup(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1, self.pool, self.norm1 = Conv(cin, cout), nn.MaxPool2d(2), BatchNorm(cout)
        self.conv2, self.norm2, self.activ = Conv(cout, cout), BatchNorm(cout), nn.GELU()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


class Scale(nn.Module):
    def forward(self, x):
        return x / 9


net = nn.Sequential(Conv(3, 24, 2, padding=0, bias=True), nn.GELU(), ConvGroup(24, 64), ConvGroup(64, 256),
                    ConvGroup(256, 256), nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, 10, bias=False), Scale())
net[0].weight.requires_grad = False
with torch.no_grad():
    patches = x_train[:5000].unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, 12)
    eigenvalues, eigenvectors = torch.linalg.eigh(patches.T @ patches / len(patches))
    filters = eigenvectors.T.reshape(12, 3, 2, 2) / torch.sqrt(eigenvalues + 5e-4).view(-1, 1, 1, 1)
    net[0].weight.copy_(torch.cat([filters, -filters]))
net = net.to(memory_format=torch.channels_last)

batch, momentum = 1024, 0.85
kilostep = 1024 * (1 + 1 / (1 - momentum))
lr, decay = 11.5 / kilostep, 0.0153 * batch / kilostep
norm_biases = [p for name, p in net.named_parameters() if "norm" in name and p.requires_grad]
others = [p for name, p in net.named_parameters() if "norm" not in name and p.requires_grad]
optimizer = torch.optim.SGD([dict(params=norm_biases, lr=64 * lr, weight_decay=decay / (64 * lr)),
                             dict(params=others, lr=lr, weight_decay=decay / lr)], momentum=momentum, nesterov=True)
steps_per_epoch = len(x_train) // batch
total = math.ceil(steps_per_epoch * epochs)
warmup = int(0.23 * total)
schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.2 + 0.8 * step / warmup if step < warmup
                                             else 1 - 0.93 * (step - warmup) / (total - warmup))
keep = 0.95 ** 5 * (torch.arange(total + 1) / total) ** 3
average = {name: value.clone() for name, value in net.state_dict().items()}


def lookahead(decay):
    for (name, kept), value in zip(average.items(), net.state_dict().values()):
        if value.dtype == torch.float:
            kept.lerp_(value, 1 - decay)
            value.copy_(kept)


def accuracy(tta):
    net.eval()
    mirrored = lambda z: 0.5 * net(z) + 0.5 * net(z.flip(-1))
    scores = []
    with torch.no_grad():
        for xb in x_val.split(500):
            xb = xb.contiguous(memory_format=torch.channels_last)
            if tta == 0:
                scores.append(net(xb))
                continue
            padded = F.pad(xb, (1,) * 4, "reflect")
            shifted = 0.5 * mirrored(padded[:, :, 0:32, 0:32]) + 0.5 * mirrored(padded[:, :, 2:34, 2:34])
            scores.append(0.5 * mirrored(xb) + 0.5 * shifted)
    return (torch.cat(scores).argmax(1) == y_val).float().mean().item()


lossf = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum")
flipped_once = torch.where((torch.rand(len(x_train)) < 0.5).view(-1, 1, 1, 1), x_train.flip(-1), x_train)
padded = F.pad(flipped_once, (2,) * 4, "reflect")
step, start = 0, time.time()
for epoch in range(math.ceil(epochs)):
    net[0].bias.requires_grad = epoch < 3
    net.train()
    dy, dx = (torch.rand(len(x_train)) * 5).long(), (torch.rand(len(x_train)) * 5).long()
    shifted = torch.empty_like(x_train)
    for oy in range(5):
        for ox in range(5):
            chosen = ((dy == oy) & (dx == ox)).nonzero().squeeze(1)
            shifted[chosen] = padded[chosen, :, oy:oy + 32, ox:ox + 32]
    if epoch % 2 == 1:
        shifted = shifted.flip(-1)
    order = torch.randperm(len(x_train))
    for i in range(steps_per_epoch):
        chosen = order[i * batch:(i + 1) * batch]
        loss = lossf(net(shifted[chosen].contiguous(memory_format=torch.channels_last)), y_train[chosen])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        step += 1
        if step % 5 == 0:
            lookahead(keep[step].item())
        if step >= total:
            lookahead(1.0)
            break
    print(f"epoch {epoch + 1}: loss/img {loss.item() / batch:.3f}, val {100 * accuracy(0):.1f}%, "
          f"with TTA {100 * accuracy(2):.1f}%, {time.time() - start:.0f} s", flush=True)
