"""The alerts flow: a run-failure sensor that raises alerts, a sensor that delivers them."""
