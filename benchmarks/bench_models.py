"""Baseline cost of each zoo model: forward and forward+backward (input gradient) at 224 px.

Every attribution method costs some number of these passes; later benchmarks report their
time divided by this baseline. Prints the median of several runs; a benchmark, not a test.

    python benchmarks/bench_models.py [--repeats 10] [--batch 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lecture_utils.hooks import preserved_state
from lecture_utils.models import load_model


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    print(f"device: {'cuda' if torch.cuda.is_available() else 'cpu'}, threads: {torch.get_num_threads()}")
    print(f"{'model':<20}{'forward ms':>12}{'fwd+bwd ms':>12}{'ratio':>8}")
    for name in ["efficientnet_lite0", "vgg19"]:
        zoo = load_model(name)
        x = torch.rand(args.batch, 3, 224, 224, device=zoo.device)

        def forward(net=zoo.net, x=x) -> None:
            with torch.no_grad():
                net(x)

        def forward_backward(net=zoo.net, x=x) -> None:
            with preserved_state(net):
                net(x.clone().requires_grad_(True)).sum().backward()

        f, fb = median_time(forward, args.repeats), median_time(forward_backward, args.repeats)
        print(f"{name:<20}{f * 1e3:>12.1f}{fb * 1e3:>12.1f}{fb / f:>8.2f}")


if __name__ == "__main__":
    main()
