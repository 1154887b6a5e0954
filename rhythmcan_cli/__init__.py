"""rhythmcan: train GANs on drum patterns and generate rhythms that belong to no genre."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rhythmcan")
except PackageNotFoundError:  # running from a source checkout that was never installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
