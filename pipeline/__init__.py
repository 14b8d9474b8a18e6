"""Video attention pipeline: decode -> sample -> per-frame attention CNN -> temporal attention -> tasks.

The import package of the `video-attention-pipeline` distribution. The command line is `vap`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("video-attention-pipeline")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
