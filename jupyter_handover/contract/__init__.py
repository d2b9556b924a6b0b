"""The data contract: inferred from the training data in the notebook, enforced by the runtime.

The contract's model and validator live in :mod:`jupyter_handover.runtime.contract` (they ship
inside every artifact); inference, which needs the training data, lives here.
"""

from jupyter_handover.contract.infer import (
    ColumnSpec,
    DataContract,
    Violation,
    contract_dtype,
    infer_contract,
)

__all__ = ["ColumnSpec", "DataContract", "Violation", "contract_dtype", "infer_contract"]
