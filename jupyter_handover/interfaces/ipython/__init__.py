"""``%handover``: the IPython magics."""
