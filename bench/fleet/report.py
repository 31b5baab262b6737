"""Tables and plot of the fleet benchmark (bench/fleet/run.sh).

Reads target/bench-fleet/fleet-N.json (written by the driver, tests/it/fleet_bench.rs), writes
the tables between the fleet-benchmark markers of BENCHMARKS.md (appended when absent) and the
plot (SVG) with matplotlib: convergence and resync time, peak RSS against the fleet size, and
the request rate over time of a resync sweep, whose spread is the ±10% resync jitter.
"""

import argparse
import glob
import json
import math
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

START = "<!-- fleet-benchmark:start (bench/fleet/report.py writes this section) -->"
END = "<!-- fleet-benchmark:end -->"

# The theoretical minimum per workspace (tests/it/fleet_bench.rs: MIN_*).
MIN_READS = 3
MIN_CONVERGE_WRITES = 5
MIN_REREADS = 3

# Targets (issue 13), checked at N = 1000.
TARGET_N = 1000


def load(directory):
    runs = []
    for path in glob.glob(os.path.join(directory, "fleet-*.json")):
        with open(path) as f:
            runs.append(json.load(f))
    if not runs:
        raise SystemExit(f"no fleet-*.json in {directory}")
    return sorted(runs, key=lambda r: r["workspaces"])


def per_ws(count, run):
    return count / run["workspaces"]


def tables(runs, command, plot):
    lines = [START, "", f"Command: `{command}`", ""]
    first = runs[0]
    lines.append(
        f"Machine: {first['cores']} cores; emulator latency {first['latency_ms']} ms per request; "
        "`brickwarden run` release build with default settings (`--concurrency 16`, "
        "`--max-requests-in-flight 64`, 10 requests/s per host); every workspace drifted on "
        "all three families of the policy above at the start."
    )
    lines.append("")
    lines.append(
        "| workspaces | converge (s) | requests/ws converging (min) | resync sweep (s) | "
        "resync reads/ws (min) | resync writes | peak RSS (MiB) | CPU per no-op reconcile (ms) |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in runs:
        conv = per_ws(r["converge_reads"] + r["converge_writes"] + r["converge_other"], r)
        lines.append(
            f"| {r['workspaces']:,} | {r['converge_s']:.1f} | "
            f"{conv:.2f} ({MIN_READS + MIN_CONVERGE_WRITES + MIN_REREADS}) | "
            f"{r['resync_span_s']:.1f} (interval {r['resync_interval_s']} s ±10%) | "
            f"{per_ws(r['resync_reads'], r):.2f} ({MIN_READS}) | {r['resync_writes']} | "
            f"{r['peak_rss_mib']:.1f} | {r['cpu_ms_per_noop_reconcile']:.3f} |"
        )
    lines.append("")
    lines.append(
        "`brickwarden plan -f DIR` over the converged fleet (`--concurrency 16`); the bound is "
        "requests x latency / concurrency:"
    )
    lines.append("")
    lines.append("| workspaces | requests | wall time (s) | concurrency bound (s) | ratio | exit |")
    lines.append("|---|---|---|---|---|---|")
    for r in runs:
        ratio = r["plan_s"] / r["plan_bound_s"] if r["plan_bound_s"] else float("nan")
        lines.append(
            f"| {r['workspaces']:,} | {r['plan_requests']:,} | {r['plan_s']:.2f} | "
            f"{r['plan_bound_s']:.2f} | {ratio:.2f} | {r['plan_exit']} |"
        )
    lines.append("")
    target = next((r for r in runs if r["workspaces"] == TARGET_N), None)
    if target:
        lines += targets(target, runs)
    lines.append(f"![fleet benchmark]({plot})")
    lines.append("")
    lines.append(END)
    return "\n".join(lines)


def targets(r, runs):
    def row(what, goal, measured, met):
        return f"| {what} | {goal} | {measured} | {'met' if met else '**missed**'} |"

    bound = r["plan_bound_s"]
    biggest = runs[-1]
    growth = ""
    linear = True
    if biggest["workspaces"] > r["workspaces"]:
        factor = biggest["workspaces"] / r["workspaces"]
        rss_factor = biggest["peak_rss_mib"] / r["peak_rss_mib"]
        linear = rss_factor <= factor * 1.2
        growth = f"x{rss_factor:.1f} for x{factor:.0f} workspaces"
    resync_min = r["resync_reads"] == MIN_READS * r["workspaces"] and r["resync_writes"] == 0
    out = [
        f"Targets at {TARGET_N:,} workspaces:",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
        row("plan", "≤ 2x bound and < 10 s", f"{r['plan_s']:.2f} s (bound {bound:.2f} s)",
            r["plan_s"] <= 2 * bound and r["plan_s"] < 10),
        row("drifted fleet converged by `brickwarden run`", "< 30 s", f"{r['converge_s']:.1f} s",
            r["converge_s"] < 30),
        row("compliant resync", f"{MIN_READS} reads/ws, 0 writes",
            f"{per_ws(r['resync_reads'], r):.2f} reads/ws, {r['resync_writes']} writes", resync_min),
        row("controller peak RSS", "< 64 MiB", f"{r['peak_rss_mib']:.1f} MiB", r["peak_rss_mib"] < 64),
        row("CPU per no-op reconcile", "< 1 ms", f"{r['cpu_ms_per_noop_reconcile']:.3f} ms",
            r["cpu_ms_per_noop_reconcile"] < 1),
    ]
    if growth:
        out.append(row("RSS growth to the largest fleet", "near linear", growth, linear))
    out.append("")
    return out


def against_fleet_size(ax, ylabel, title):
    """Labels an axis that plots `ylabel` against the fleet size (log scale)."""
    ax.set_xscale("log")
    ax.set_xlabel("workspaces")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)


def plot(runs, path):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ns = [r["workspaces"] for r in runs]

    ax = axes[0]
    ax.plot(ns, [r["converge_s"] for r in runs], "o-", label="converge a drifted fleet")
    ax.plot(ns, [r["resync_span_s"] for r in runs], "s-", label="resync sweep (span)")
    ax.plot(ns, [r["plan_s"] for r in runs], "^-", label="brickwarden plan")
    against_fleet_size(ax, "seconds", "Time against fleet size")
    ax.legend(fontsize=8)

    ax = axes[1]
    ax.plot(ns, [r["peak_rss_mib"] for r in runs], "o-", color="tab:purple")
    against_fleet_size(ax, "MiB", "Controller peak RSS (VmHWM)")

    ax = axes[2]
    r = runs[-1]
    times = r["resync_times"]
    conv = r["converge_times"]
    if times:
        width = 1.0
        top = max(times)
        bins = max(1, math.ceil(top / width))
        ax.hist(times, bins=bins, range=(0, bins * width), color="tab:green",
                label=f"resync sweep (interval {r['resync_interval_s']} s ±10%)")
    if conv:
        # Converging, on the same clock: 0 is when the last workspace turned Compliant.
        shifted = [t - r["converge_s"] for t in conv]
        low = math.floor(min(shifted))
        ax.hist(shifted, bins=max(1, -low), range=(low, 0), color="tab:orange", alpha=0.7,
                label="converging the drifted fleet")
    ax.set_xlabel("seconds (0 = fleet converged, journal cleared)")
    ax.set_ylabel("requests per second")
    ax.set_title(f"Request rate at the emulator, {r['workspaces']:,} workspaces")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)

    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None})


def write_markdown(path, section):
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Fleet benchmark\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--command", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--plot", required=True)
    args = parser.parse_args()
    runs = load(args.directory)
    plot(runs, args.plot)
    rel = os.path.relpath(args.plot, os.path.dirname(os.path.abspath(args.markdown)))
    write_markdown(args.markdown, tables(runs, args.command, rel))
    for r in runs:
        print(f"n={r['workspaces']}: converge {r['converge_s']:.1f}s, resync {r['resync_span_s']:.1f}s, "
              f"rss {r['peak_rss_mib']:.1f} MiB, plan {r['plan_s']:.2f}s")


if __name__ == "__main__":
    main()
