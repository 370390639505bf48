"""agentinsight: observe fleets of AI agents.

Importing the package imports nothing heavy. Agent code uses ``from agentinsight import emit``;
analysts use ``agentinsight.sources``, ``agentinsight.analysis`` and ``agentinsight.plots``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]


def __getattr__(name: str):  # pragma: no cover - thin lazy import
    # `from agentinsight import emit` must work without importing the heavy sub-packages.
    if name in {"emit", "catalog", "exceptions"}:
        import importlib

        return importlib.import_module(f"agentinsight.{name}")
    raise AttributeError(f"module 'agentinsight' has no attribute {name!r}")
