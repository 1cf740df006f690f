"""Calibrate a scenario's population from a transaction log: BG/NBD purchases and dropout,
Gamma-Gamma spend, fitted by maximum likelihood per segment, with diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sim.calibration.diagnostics import SegmentFit, cumulative_png, fit_segment, report
from sim.calibration.transactions import TransactionLog, read_transactions
from sim.calibration.writer import population_yaml
from sim.io.tables import TableOptions


@dataclass(frozen=True)
class Calibration:
    """The summarised log and one fit per segment (in the order of their names)."""

    log: TransactionLog
    fits: dict[str, SegmentFit]

    def report(self) -> str:
        """Estimates, fit diagnostics and notes on the data, as text."""
        return report(self.log, self.fits)

    def population_yaml(self) -> str:
        """The calibrated population block (time unit day) with its header comment."""
        return population_yaml(self.log, self.fits)

    def figure_png(self) -> bytes:
        """Cumulative repeat purchases, actual against the model, as a PNG."""
        return cumulative_png(self.log, self.fits)


def calibrate(
    path: str | Path,
    *,
    customer_col: str = "customer",
    date_col: str = "date",
    amount_col: str = "amount",
    segment_col: str | None = None,
    calibration_end: str | date | None = None,
    options: TableOptions | None = None,
) -> Calibration:
    """Read the transaction file (CSV or Parquet) at ``path`` and fit each segment (one
    without ``segment_col``); ``options`` say how the file is written (sim.io.tables).

    Raises SimInputError, naming the file, columns and rows, for data that cannot be used.
    """
    log = read_transactions(
        path, customer_col, date_col, amount_col, segment_col, calibration_end, options
    )
    customers = log.customers
    fits = {
        name: fit_segment(name, customers.subset(customers.segment == k), log)
        for k, name in enumerate(log.segments)
        # A segment whose customers all joined after the calibration end has none to fit.
        if (customers.segment == k).any()
    }
    return Calibration(log, fits)


__all__ = ["Calibration", "calibrate"]
