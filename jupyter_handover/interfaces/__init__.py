"""Thin adapters over the core: IPython magics, the command line, the Jupyter server
extension and the nbconvert exporter. Each decodes its input, calls the core, encodes the
result; none holds logic of its own.
"""
