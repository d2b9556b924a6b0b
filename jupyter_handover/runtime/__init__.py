"""The runtime shipped inside every handover artifact (as ``handover/runtime/``).

Pure Python that needs only what the artifact's lock names (pandas, numpy, joblib and the
model's own libraries). It must never import jupyter_handover: inside an artifact this
package is imported as top-level ``runtime``, inside jupyter_handover as
``jupyter_handover.runtime``. Use relative imports only.
"""
