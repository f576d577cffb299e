#!/usr/bin/python3
"""Writes the TorchScript modules and the npy data set of tests/cli/model_check_e2e_test.cpp,
with the real PyTorch and numpy (Debian python3-torch 1.13, the same as LibTorch):

  model_check_modules.py OUT_DIR modules   (the PyTorch of kakuren's LibTorch: no numpy needed)
  model_check_modules.py OUT_DIR npy       (Debian's python3 with numpy)

mismatch.pt      Linear(100, 10) on the flattened input: 28x28 images do not fit
                 ("mat1 and mat2 shapes cannot be multiplied (2x784 and 100x10)")
five.pt          [B, 1, 28, 28] -> [B, 5]: runs, but 10 classes need [B, 10]
fits.pt          [B, 1, 28, 28] -> [B, 10]
dict_out.pt      returns {"logits": [B, 10], "features": [B, 32]}
tuple_out.pt     returns (logits [B, 10], features [B, 32])
list_out.pt      returns [logits, features] (a list)
npy/train, npy/test  uint8 images [N, 3, 16, 16] and int64 labels 0..3 (data.npy, targets.npy)
"""
import os
import sys
from typing import Dict, List, Tuple


def write_npy(root):
    import numpy as np

    rng = np.random.default_rng(1)
    for split, n in (("train", 32), ("test", 16)):
        folder = os.path.join(root, split)
        os.makedirs(folder, exist_ok=True)
        np.save(os.path.join(folder, "data.npy"),
                rng.integers(0, 255, (n, 3, 16, 16)).astype(np.uint8))
        np.save(os.path.join(folder, "targets.npy"), (np.arange(n) % 4).astype(np.int64))


if sys.argv[2:] == ["npy"]:  # numpy only: the PyPI flavour's .venv has torch but no numpy
    write_npy(os.path.join(sys.argv[1], "npy"))
    sys.exit(0)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


class Mismatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


class Five(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28 * 28, 5)

    def forward(self, x):
        return self.fc(x.flatten(1))


class Fits(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28 * 28, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


class Features(nn.Module):
    """A hidden layer of 32 and a 10-class head: what the dict / tuple / list modules return."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(28 * 28, 32)
        self.head = nn.Linear(32, 10)

    def both(self, x):
        features = torch.relu(self.hidden(x.flatten(1)))
        return self.head(features), features


class DictOut(Features):
    def forward(self, x) -> Dict[str, torch.Tensor]:
        logits, features = self.both(x)
        return {"logits": logits, "features": features}


class TupleOut(Features):
    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.both(x)


class ListOut(Features):
    def forward(self, x) -> List[torch.Tensor]:
        logits, features = self.both(x)
        return [logits, features]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1)
    for name, module in (("mismatch", Mismatch), ("five", Five), ("fits", Fits),
                         ("dict_out", DictOut),
                         ("tuple_out", TupleOut), ("list_out", ListOut)):
        torch.jit.script(module()).save(os.path.join(out, name + ".pt"))


if __name__ == "__main__":
    main()
