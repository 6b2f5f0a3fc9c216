"""OptiHub: a self-hostable optical order hub."""

__version__ = "0.1.0"
