"""The report's PNG charts (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def api(data: dict[str, Any], path: Path) -> None:
    """p50 bars with p99 markers, per request kind, one panel per concurrency."""
    backends = data["backends"]
    levels = sorted({r["concurrency"] for b in backends for r in b["results"]})
    fig, axes = plt.subplots(1, len(levels), figsize=(6 * len(levels), 4), squeeze=False)
    for ax, level in zip(axes[0], levels, strict=True):
        for i, backend in enumerate(backends):
            rows = [r for r in backend["results"] if r["concurrency"] == level]
            xs = [j + i * 0.4 for j in range(len(rows))]
            ax.bar(xs, [r["p50_ms"] for r in rows], width=0.4, label=f"{backend['backend']} p50")
            ax.scatter(xs, [r["p99_ms"] for r in rows], marker="_", s=300, color="black",
                       label="p99" if i == 0 else None, zorder=3)
            ax.set_xticks([j + 0.2 for j in range(len(rows))],
                          [r["scenario"].replace("_", "\n") for r in rows], fontsize=8)
        ax.set_ylabel("latency (ms)")
        ax.set_title(f"concurrency {level}")
        ax.legend(fontsize=8)
    _save(fig, path)


def lifecycle(data: dict[str, Any], path: Path) -> None:
    steps = data["steps"]
    names = list(steps)
    medians = [steps[n]["median_s"] for n in names]
    low = [m - steps[n]["min_s"] for n, m in zip(names, medians, strict=True)]
    high = [steps[n]["max_s"] - m for n, m in zip(names, medians, strict=True)]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(range(len(names)), medians, yerr=[low, high], capsize=4, color="tab:blue")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("seconds (median, min to max)")
    ax.set_title("cluster lifecycle, local Swarm driver")
    _save(fig, path)


def cost(data: dict[str, Any], path: Path) -> None:
    rows = data["per_node"]
    nodes = [r["nodes"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(nodes, [r["create_s"] for r in rows], marker="o")
    left.set_xlabel("nodes")
    left.set_ylabel("create time (s)")
    left.set_title("create time vs node count")
    for key, name in (("engine_rss_mib_per_node", "engine RSS"),
                      ("engine_pss_mib_per_node", "engine PSS"),
                      ("host_used_delta_mib_per_node", "host used Δ")):
        right.plot(nodes, [r[key] for r in rows], marker="o", label=name)
    right.set_xlabel("nodes")
    right.set_ylabel("MiB per idle node")
    right.set_title("memory per idle node")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _save(fig, path)


def concurrency(data: dict[str, Any], path: Path) -> None:
    times = data["per_cluster"]["samples_s"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(times, bins=max(3, min(20, len(times))), color="tab:green")
    ax.set_xlabel("seconds from request to CREATE_COMPLETE")
    ax.set_ylabel("clusters")
    ax.set_title(f"{data['clusters']} clusters at once (total {data['total_s']} s)")
    _save(fig, path)
