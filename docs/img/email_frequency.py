"""Draw docs/img/email_frequency.png, the worked example of docs/sweeps.md: two-year CLV against
email frequency per strategy, from sweeps/email_frequency.yaml.

Run from the repository root: ``python docs/img/email_frequency.py [--jobs N]`` (about half a
minute on two cores). The sweep goes to a temporary folder, so the checkout stays clean.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt
from scipy import stats

import sim

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, help="local processes [default: all cores]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        frame = sim.sweep(ROOT / "sweeps" / "email_frequency.yaml", jobs=args.jobs, out=tmp)

    # The gain over silent in the same point and replication: strategies share members and
    # random draws there, so the difference is the strategy's effect, not noise between runs.
    rows = frame.set_index(["point", "replication"])
    silent = rows.loc[rows["strategy"] == "silent", "clv_per_member"]
    rows = rows[rows["strategy"] != "silent"].assign(
        gain=lambda r: r["clv_per_member"] - silent,
        per_week=lambda r: 7 / r["every_days"],
    )
    summary = rows.groupby(["strategy", "per_week"], sort=False)["gain"].agg(
        ["mean", "sem", "count"]
    )
    summary["half_width"] = summary["sem"] * stats.t.ppf(0.975, summary["count"] - 1)

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for strategy, group in summary.groupby(level="strategy", sort=False):
        x = group.index.get_level_values("per_week")
        ax.errorbar(
            x, group["mean"], yerr=group["half_width"], marker="o", capsize=3, label=strategy
        )
    ax.axhline(0.0, color="grey", linewidth=1, linestyle="--", label="silent (no email)")
    ticks = [1, 2, 3, 5, 7, 10, 14]
    ax.set_xscale("log")
    ax.set_xticks(ticks, labels=[str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("newsletters per week")
    ax.set_ylabel("CLV per member, gain over silent (NOK)")
    ax.set_title("Two-year CLV against email frequency (5,000 members, 4 replications, 95% CI)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "img" / "email_frequency.png", dpi=110)


if __name__ == "__main__":
    main()
