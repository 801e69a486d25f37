"""polybench: benchmark and analysis toolkit for classification losses (PolyLoss, focal, CE)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("polybench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
