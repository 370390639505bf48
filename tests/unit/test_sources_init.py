"""The public face of agentinsight.sources."""

from __future__ import annotations

import agentinsight.sources as sources


def test_public_names_are_curated_and_sorted():
    assert sources.__all__ == sorted(sources.__all__)
    for name in ("FileSource", "JaegerSource", "PrometheusSource", "parse_time"):
        assert name in sources.__all__
    for name in sources.__all__:
        assert getattr(sources, name) is not None
    assert not any(name.startswith("_") for name in sources.__all__)
