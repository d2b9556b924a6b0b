"""``jupyter handover ...``: the command line."""
