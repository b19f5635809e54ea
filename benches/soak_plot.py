#!/usr/bin/env python3
"""Plots a soak CSV (benches/soak.sh) to PNG and prints its summary.

    python3 benches/soak_plot.py soak.csv soak.png      (needs matplotlib from PyPI)

The summary compares the first and last thirds after the warm-up (the first 10% of the
run): growth that continues after warm-up shows as a difference between them.
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    source, target = sys.argv[1], sys.argv[2]
    with open(source) as f:
        rows = [r for r in csv.DictReader(f)]
    minutes = [int(r["elapsed_s"]) / 60 for r in rows]
    rss_mb = [int(r["rss_kb"]) / 1024 for r in rows]
    files = [int(r["open_files"]) for r in rows]

    warm = max(1, len(rows) // 10)
    steady = rss_mb[warm:]
    third = max(1, len(steady) // 3)
    first, last = steady[:third], steady[-third:]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    print(f"samples: {len(rows)} over {minutes[-1]:.1f} min")
    print(f"VmRSS after warm-up: min {min(steady):.1f} MB, max {max(steady):.1f} MB")
    print(f"VmRSS mean, first third {mean(first):.1f} MB, last third {mean(last):.1f} MB")
    print(f"open files: min {min(files)}, max {max(files)}")

    fig, rss_axis = plt.subplots(figsize=(9, 4.5))
    rss_axis.plot(minutes, rss_mb, color="tab:blue", label="VmRSS (MB)")
    rss_axis.set_xlabel("minutes")
    rss_axis.set_ylabel("VmRSS (MB)", color="tab:blue")
    rss_axis.set_ylim(bottom=0)
    rss_axis.axvline(minutes[warm], color="grey", linestyle=":", label="end of warm-up")
    files_axis = rss_axis.twinx()
    files_axis.plot(minutes, files, color="tab:orange", alpha=0.6, label="open files")
    files_axis.set_ylabel("open files", color="tab:orange")
    files_axis.set_ylim(bottom=0)
    rss_axis.set_title("mq broker under mixed load (benches/soak.sh)")
    fig.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(target, dpi=100)


if __name__ == "__main__":
    main()
