"""Load tests drawn from the data contract: open-loop Poisson arrivals, capacity sizing."""
