"""Parameter sweeps: many scenarios derived from one base, run with replications on local
processes or a Dask cluster, streamed to disk point by point and resumable.

``sim.sweep`` is the notebook function (:func:`sim.sweeps.api.sweep`), which hides this package
as an attribute of ``sim``: import its modules with ``from sim.sweeps.api import ...`` or
``from sim.sweeps import api``, not ``import sim.sweeps.api as api``.
"""
