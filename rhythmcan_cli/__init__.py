"""rhythmcan: train GANs on drum patterns and generate rhythms that belong to no genre."""

# The one place the version is written; pyproject.toml reads it from here. A literal rather
# than importlib.metadata keeps `rhythmcan --help` and `sample` start-up fast.
__version__ = "0.1.0"

__all__ = ["__version__"]
