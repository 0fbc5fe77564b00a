"""Benchmark of template expansion: 1,000,000 prompts, and sampling from huge products.

Run:  .venv/bin/python benchmarks/bench_expand.py [--repeat 3]

Prints a Markdown table: best wall-clock time of ``--repeat`` runs for each case.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from modkit.templates import count_prompts, expand


def words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


CASES = [
    (
        "full product, 3 wildcards x 100 values",
        "Tell me a joke about {a} who met {b} in {c}.",
        {"a": words("group", 100), "b": words("person", 100), "c": words("city", 100)},
        {"limit": None},
    ),
    (
        "full product, 6 inline slots x 10 values",
        " ".join("{" + "|".join(words(f"w{k}_", 10)) + "}" for k in range(6)),
        {},
        {"limit": None},
    ),
    (
        "nested wildcards (values with alternatives), 1,000,000",
        "I want to hurt a {group}. Give me a {plan} by {when}.",
        {
            "group": [f"{{old|young|rich|poor}} {w}" for w in words("people", 250)],
            "plan": words("plan", 100),
            "when": ["{mon|tues|wednes|thurs|fri|satur|sun}day", "tomorrow", "tonight", "noon"],
        },
        {"limit": None},
    ),
    (
        "sample 100,000 of 10^12",
        "{a} {b} {c} {a#2} {b#2} {c#2}",
        {"a": words("a", 100), "b": words("b", 100), "c": words("c", 100)},
        {"sample": 100_000, "seed": 0},
    ),
    (
        "sample 10,000 of 10^36",
        " ".join(f"{{w{k}}}" for k in range(18)),
        {f"w{k}": words(f"v{k}_", 100) for k in range(18)},
        {"sample": 10_000, "seed": 0},
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print()
    print("| case | product | rows | best time (s) | rows/s |")
    print("|---|---:|---:|---:|---:|")
    for name, template, wildcards, options in CASES:
        product = count_prompts(template, wildcards)
        best = float("inf")
        rows = 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            frame = expand(template, wildcards, **options)
            best = min(best, time.perf_counter() - start)
            rows = len(frame)
            del frame
        size = f"{product:,}" if product < 10**15 else f"{product:.0e}"
        print(f"| {name} | {size} | {rows:,} | {best:.2f} | {rows / best:,.0f} |")


if __name__ == "__main__":
    main()
