"""The contract's model and validator (shipped inside every artifact; relative imports only).

- :mod:`.model`: :class:`DataContract`, :class:`ColumnSpec`, :class:`Violation` and exports
- :mod:`.checks`: vectorised per-column checks and conversions
- :mod:`.fast`: the fast path for plain JSON payloads
- :mod:`.payload`: MLflow's scoring shapes -> DataFrame
- :mod:`.limits`: which numbers a column's dtype can hold
"""

from .model import DEFAULT_POLICIES, FORMAT_VERSION, ColumnSpec, DataContract, Violation

__all__ = ["DEFAULT_POLICIES", "FORMAT_VERSION", "ColumnSpec", "DataContract", "Violation"]
