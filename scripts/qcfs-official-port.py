#!/usr/bin/python3
"""A port of the official QCFS code (Bu et al., ICLR 2022; putshua/SNN_conversion_QCFS) to the
bench workload of this toolkit, to compare the `qcfs` step's baseline with the original algorithm
seed by seed (docs/EXPERIMENTS.md, "The QCFS baseline at low T"; issue 16).

What is the official code's, line for line: MyFloor (x / up, floor(x t + 1/2) / t with a
straight-through floor, clamp to [0, 1], times up; up a learned scalar per layer from 8),
regular_set's three parameter groups (thresholds, weights, batch norm) all with weight decay,
SGD with momentum 0.9 and CosineAnnealingLR stepped once per epoch, and the SNN of
replace_activation_by_neuron: ScaledNeuron, an integrate-and-fire neuron with soft reset fed
x / up, charged with 0.5 before the first step (v(0) = theta / 2), batch norm kept in eval mode,
outputs summed over the time steps. Evaluation reads one simulation of 8 steps at T = 1, 2, 4, 8.

What is the bench workload's: fmnist-vgg (Snn.Dsl/Presets.fs), the first 55,000 training images
(the last 5,000 are the toolkit's held-out split), random crop with padding 2 and horizontal
flip, normalisation (p / 255 - 0.2860) / 0.3530, batch 128, learning rate 0.05, weight decay
5e-4, 10 epochs, L = 4.

The official code keeps the epoch with the best *test* accuracy. This port reports the last
epoch's network; where the best test epoch is another one, it also scores that network, under
its own key (a selection on test data, for comparison only).

Needs Debian's python3-torch (no other package). Two cores: about 20 minutes a seed.

usage: scripts/qcfs-official-port.py SEED OUT.json [--data DIR]
"""
import argparse, gzip, json, os, random, time
import numpy as np
import torch
from torch import nn
from torch.autograd import Function

torch.set_num_threads(2)
MEAN, STD = 0.2860, 0.3530
L, THETA0, EPOCHS, BATCH, LR, WD = 4, 8.0, 10, 128, 0.05, 5e-4
TS = [1, 2, 4, 8]


def idx(data, name, images):
    with gzip.open(os.path.join(data, name), "rb") as f:
        raw = f.read()
    if images:
        return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return np.frombuffer(raw, np.uint8, offset=8).astype(np.int64)


class GradFloor(Function):
    @staticmethod
    def forward(ctx, x):
        return x.floor()

    @staticmethod
    def backward(ctx, g):
        return g


class MyFloor(nn.Module):
    def __init__(self, up=8.0, t=32):
        super().__init__()
        self.up = nn.Parameter(torch.tensor([up]), requires_grad=True)
        self.t = t

    def forward(self, x):
        x = x / self.up
        x = GradFloor.apply(x * self.t + 0.5) / self.t
        x = torch.clamp(x, 0, 1)
        return x * self.up


class ScaledNeuron(nn.Module):
    """spikingjelly IFNode(v_reset=None), threshold 1, fed x / scale; v(0) = 0.5 as the official code."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale
        self.v = None

    def forward(self, x):
        x = x / self.scale
        if self.v is None:
            self.v = torch.full_like(x, 0.5)
        self.v = self.v + x
        spike = (self.v >= 1.0).to(x.dtype)
        self.v = self.v - spike
        return spike * self.scale

    def reset(self):
        self.v = None


def conv_bn_act(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=True), nn.BatchNorm2d(cout), MyFloor(THETA0, L)]


def fmnist_vgg():
    return nn.Sequential(
        *conv_bn_act(1, 32), *conv_bn_act(32, 32), nn.AvgPool2d(2),
        *conv_bn_act(32, 64), *conv_bn_act(64, 64), nn.AvgPool2d(2),
        *conv_bn_act(64, 128), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(1152, 256), MyFloor(THETA0, L), nn.Linear(256, 10))


def regular_set(model):
    ups, weights, bns = [], [], []
    for m in model:
        if isinstance(m, MyFloor):
            ups += list(m.parameters())
        elif isinstance(m, nn.BatchNorm2d):
            bns += list(m.parameters())
        else:
            weights += list(m.parameters())
    return ups, weights, bns


def normalise(u8):
    return (torch.from_numpy(u8).float() / 255.0 - MEAN) / STD


def augment(u8, rng):
    n = u8.shape[0]
    padded = np.zeros((n, 1, 32, 32), np.uint8)
    padded[:, :, 2:30, 2:30] = u8
    dx, dy = rng.integers(0, 5, n), rng.integers(0, 5, n)
    flip = rng.random(n) < 0.5
    out = np.empty_like(u8)
    for i in range(n):
        img = padded[i, :, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28]
        out[i] = img[:, :, ::-1] if flip[i] else img
    return normalise(out)


def eval_ann(model, x, y):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            right += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return 100.0 * right / len(y)


def eval_snn(model, x, y):
    snn = nn.Sequential(*[ScaledNeuron(m.up.item()) if isinstance(m, MyFloor) else m for m in model]).eval()
    right = torch.zeros(max(TS))
    with torch.no_grad():
        for i in range(0, len(y), 500):
            for m in snn:
                if isinstance(m, ScaledNeuron):
                    m.reset()
            xs, ys, total = x[i:i + 500], y[i:i + 500], 0
            for t in range(max(TS)):
                total = total + snn(xs)
                right[t] += (total.argmax(1) == ys).sum()
    return {t: 100.0 * right[t - 1].item() / len(y) for t in TS}


def main(seed, out, data):
    random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_x, train_y = idx(data, "train-images-idx3-ubyte.gz", True)[:55000], torch.from_numpy(idx(data, "train-labels-idx1-ubyte.gz", False)[:55000])
    test_x, test_y = normalise(idx(data, "t10k-images-idx3-ubyte.gz", True)), torch.from_numpy(idx(data, "t10k-labels-idx1-ubyte.gz", False))
    model = fmnist_vgg()
    ups, weights, bns = regular_set(model)
    opt = torch.optim.SGD([{"params": ups, "weight_decay": WD}, {"params": weights, "weight_decay": WD},
                           {"params": bns, "weight_decay": WD}], lr=LR, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)
    loss_fn = nn.CrossEntropyLoss()
    epochs, best, best_state = [], -1.0, None
    for epoch in range(EPOCHS):
        start = time.time()
        model.train()
        order = rng.permutation(55000)
        for b in range(0, 55000, BATCH):
            sel = order[b:b + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(augment(train_x[sel], rng)), train_y[sel])
            loss.backward()
            opt.step()
        acc = eval_ann(model, test_x, test_y)
        if acc >= best:  # the official code's checkpoint rule (on test): a diagnostic only
            best, best_epoch = acc, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        epochs.append({"epoch": epoch, "test_acc": acc, "seconds": time.time() - start})
        print(f"seed {seed} epoch {epoch}: QC ANN {acc:.2f} ({time.time() - start:.0f} s)", flush=True)
        sched.step()
    result = {"seed": seed, "epochs": epochs, "qc_ann": epochs[-1]["test_acc"],
              "thresholds": [m.up.item() for m in model if isinstance(m, MyFloor)],
              "snn": eval_snn(model, test_x, test_y), "best_test_epoch": best_epoch}
    if best_epoch != EPOCHS - 1:
        model.load_state_dict(best_state)
        result["best_test_epoch_snn"] = eval_snn(model, test_x, test_y)
        result["best_test_epoch_thresholds"] = [m.up.item() for m in model if isinstance(m, MyFloor)]
    print(json.dumps(result), flush=True)
    with open(out + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The official QCFS algorithm on the bench workload, one seed.")
    parser.add_argument("seed", type=int)
    parser.add_argument("out", help="the JSON file of the results (written atomically)")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="the folder of the IDX .gz files")
    a = parser.parse_args()
    main(a.seed, a.out, a.data)
