#!/usr/bin/python3
"""Writes the TorchScript modules the trainer tests load, with the real PyTorch (Debian
python3-torch, the same 1.13 as LibTorch). Run by tests/trainer/torchscript_test.cpp at test time:

  make_modules.py OUT_DIR [--seed 1]

cnn.pt          kakuren's built-in cnn layer by layer (conv1, conv2, fc1, fc2), initialised from
                torch.manual_seed(seed) exactly as kakuren initialises its own: same weights
cnn_traced.pt   the same network exported with torch.jit.trace
resnet.pt       a small ResNet with batch norm and dropout (train/eval mode matters)
segment.pt      a segmentation head: [B, 1, 28, 28] -> [B, 10, 28, 28]
regress.pt      a regression head: [B, 1, 28, 28] -> [B, 4]
two_inputs.pt   forward(x, y)
no_forward.pt   a module with an exported method but no forward
frozen.pt       a module without trainable parameters
dist_small.pt   [B, 1, 8, 8] -> [B, 4] with batch norm, for the 2-rank test
newer.pt        cnn.pt with the archive's format version raised to 99, as a future PyTorch writes
not_a_module.pt a zip file that is no TorchScript archive
"""
import argparse
import os
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F


class Cnn(nn.Module):
    def __init__(self, channels=1, classes=10, side=28):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * (side // 4) * (side // 4), 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class SmallResNet(nn.Module):
    def __init__(self, classes=10, width=8):
        super().__init__()
        self.stem = nn.Conv2d(1, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.block1 = Block(width)
        self.block2 = Block(width)
        self.dropout = nn.Dropout(0.1)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = self.block2(F.max_pool2d(self.block1(x), 2))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(self.dropout(x))


class Segment(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        return self.head(F.relu(self.conv(x)))


class Regress(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28 * 28, 4)

    def forward(self, x):
        return self.fc(x.flatten(1))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28 * 28, 10)

    def forward(self, x, y):
        return self.fc(x.flatten(1)) + y


class NoForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    @torch.jit.export
    def predict(self, x):
        return self.fc(x)


class DistSmall(nn.Module):
    """For the 2-rank test's synthetic problem: [B, 1, 8, 8] -> 4 classes, with batch norm."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.bn = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x.flatten(1)))))


class Frozen(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :10]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)

    torch.manual_seed(args.seed)
    cnn = Cnn()
    torch.jit.script(cnn).save(out("cnn.pt"))
    torch.jit.trace(cnn, torch.zeros(2, 1, 28, 28)).save(out("cnn_traced.pt"))
    torch.manual_seed(args.seed)
    torch.jit.script(SmallResNet()).save(out("resnet.pt"))
    torch.jit.script(Segment()).save(out("segment.pt"))
    torch.jit.script(Regress()).save(out("regress.pt"))
    torch.jit.script(TwoInputs()).save(out("two_inputs.pt"))
    torch.jit.script(NoForward()).save(out("no_forward.pt"))
    torch.jit.script(Frozen()).save(out("frozen.pt"))
    torch.manual_seed(args.seed)
    torch.jit.script(DistSmall()).save(out("dist_small.pt"))

    # A future PyTorch's archive: the same files with a format version LibTorch 1.13 does not read.
    with zipfile.ZipFile(out("cnn.pt")) as src, zipfile.ZipFile(out("newer.pt"), "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("/version"):
                data = b"99\n"
            dst.writestr(item, data)
    with zipfile.ZipFile(out("not_a_module.pt"), "w") as z:
        z.writestr("hello.txt", "not a module\n")


if __name__ == "__main__":
    main()
