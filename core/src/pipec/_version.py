"""pipec's version, in a module of its own so that no module imports the package's facade
(`pipec/__init__.py`) to learn it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pipec")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
