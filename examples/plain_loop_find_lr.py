"""Your own model, data loader and training loop: lrlab's range test, then train at its rate.

    python examples/plain_loop_find_lr.py            # a small MLP on scikit-learn's digits
    python examples/plain_loop_find_lr.py --tiny     # a few seconds (what the tests run)
"""

from __future__ import annotations

import argparse
import math

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrlab
from lrlab.integrations import scale_rates
from lrlab.report import plot_range_test, range_test_info


def main(tiny: bool = False) -> float:
    x, y = load_digits(return_X_y=True)
    data = TensorDataset(torch.tensor(x / 16, dtype=torch.float32), torch.tensor(y))
    loader = DataLoader(data, batch_size=32, shuffle=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    epochs = 1 if tiny else 10
    # the range test: model and optimizer come back exactly as they were; training_steps
    # (your training's optimizer steps) brings the advice a momentum or short training needs
    result = lrlab.find_lr(model, loss_fn, loader, optimizer=optimizer, start=1e-5, end=10.0,
                           steps=30 if tiny else 100, training_steps=epochs * len(loader))
    rate = result.suggestion.lr
    if math.isnan(rate):  # no rate: the reason says what to try instead
        raise SystemExit(f"no rate: {result.suggestion.why}")
    print(f"suggested rate {rate:.3g}: {result.suggestion.why}")
    for line in result.warnings:  # weak evidence, and what to do about it (the rates a
        print(f"warning: {line}")  # warning names to train and compare: result.to_try)
    scale_rates(optimizer, [], rate)  # group 0 at the rate, any others in their ratios

    for epoch in range(epochs):  # your loop, unchanged
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        print(f"epoch {epoch + 1}: training loss {total / len(data):.4f}")
    if not tiny:
        plot_range_test(range_test_info(result)).savefig("range_test.png")
    return rate


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a few seconds")
    main(parser.parse_args().tiny)
