#!/usr/bin/python3
"""Builds two small PyTorch models, trains them briefly on Fashion-MNIST, reports their PyTorch
test accuracy and exports them to ONNX for `snn import` (docs/IMPORT.md, issue 14).

  fmnist-vgg  BENCHMARKS.md's network: conv-BN-ReLU blocks with average pooling, linear head
  resnet      a small ResNet: a conv-BN-ReLU stem, three basic blocks (identity and 1x1
              projection shortcuts, residual Adds), global average pooling, linear head

Each model is exported twice with a dynamic batch axis:
  NAME-eval.onnx   torch.onnx.export in eval mode (the exporter folds BatchNorm into the convs)
  NAME-train.onnx  exported in training mode so that BatchNormalization is kept; the BN nodes are
                   then marked as inference nodes (training_mode = 0, running-statistics outputs
                   removed) so that ONNX Runtime normalises with the running statistics, as
                   PyTorch's eval mode does
and OUT/pytorch.json records the PyTorch test accuracies (eval mode, whole test split).

Needs Debian's python3-torch and python3-onnx (no other package). Reads the IDX files with numpy
and normalises as the toolkit does: (p / 255 - 0.2860) / 0.3530.

usage: scripts/export-onnx-examples.py [--data DIR] [--out DIR] [--train-images N] [--epochs E]
"""
import argparse
import copy
import gzip
import json
import os
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise SystemExit(f"{folder}: {stem} not found (expected the Fashion-MNIST IDX files)")


def load(folder, split):
    images = read_idx(find(folder, f"{split}-images-idx3-ubyte"))
    labels = read_idx(find(folder, f"{split}-labels-idx1-ubyte"))
    x = (torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1) - MEAN) / STD
    return x, torch.from_numpy(labels.astype(np.int64))


def fmnist_vgg():
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, 32), *block(32, 32), nn.AvgPool2d(2),
        *block(32, 64), *block(64, 64), nn.AvgPool2d(2),
        *block(64, 128), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(128 * 3 * 3, 256), nn.ReLU(), nn.Linear(256, 10))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layers = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


def accuracy(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for k in range(0, len(x), 1000):
            correct += (model(x[k:k + 1000]).argmax(1) == y[k:k + 1000]).sum().item()
    return 100.0 * correct / len(x)


def train(model, x, y, epochs, seed):
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for k in range(0, len(x), 128):
            idx = order[k:k + 128]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()


def inference_batch_norm(path):
    """Marks every BatchNormalization as inference: training_mode = 0, only output Y kept."""
    model = onnx.load(path)
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            for a in list(node.attribute):
                if a.name == "training_mode":
                    node.attribute.remove(a)
            del node.output[1:]
    onnx.checker.check_model(model)
    onnx.save(model, path)


def export(model, path, mode):
    # A copy: tracing in training mode runs BatchNorm on the dummy batch. Momentum 0 keeps the
    # running statistics that the copy exports exactly those of the trained model.
    model = copy.deepcopy(model)
    training = mode == torch.onnx.TrainingMode.TRAINING
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d) and training:
            m.momentum = 0.0
    model.train(training)
    dummy = torch.zeros(2, 1, 28, 28)
    torch.onnx.export(model, dummy, path, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, training=mode)
    if training:
        inference_batch_norm(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("SNN_DATA", "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--out", default="runs/onnx-examples")
    p.add_argument("--train-images", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "t10k")
    xtr, ytr = xtr[:args.train_images], ytr[:args.train_images]
    summary = {"train_images": len(xtr), "epochs": args.epochs, "torch": torch.__version__, "models": {}}
    for seed, (name, build) in enumerate([("fmnist-vgg", fmnist_vgg), ("resnet", SmallResNet)]):
        torch.manual_seed(seed)
        model = build()
        start = time.time()
        train(model, xtr, ytr, args.epochs, seed)
        acc = accuracy(model, xte, yte)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {params} parameters, trained {args.epochs} epoch(s) on {len(xtr)} images "
              f"in {time.time() - start:.0f} s, PyTorch test accuracy {acc:.2f}%")
        files = {}
        for suffix, mode in [("eval", torch.onnx.TrainingMode.EVAL), ("train", torch.onnx.TrainingMode.TRAINING)]:
            path = os.path.join(args.out, f"{name}-{suffix}.onnx")
            export(model, path, mode)
            files[suffix] = path
            print(f"  exported {path}")
        torch.save(model.state_dict(), os.path.join(args.out, f"{name}.pt"))
        summary["models"][name] = {"parameters": params, "pytorch_test_accuracy": acc, "files": files}
    with open(os.path.join(args.out, "pytorch.json"), "w") as f:
        json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
