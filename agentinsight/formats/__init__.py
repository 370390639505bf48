"""The file and wire formats agentinsight writes and reads, each writer beside its reader.

:mod:`~agentinsight.formats.otlp_json`
    OTLP JSON traces: encoding from the OpenTelemetry SDK's spans (emit's ``file:`` exporter,
    the simulator) and decoding into the spans frame's columns (files, Jaeger api_v3).

Part of the base layer: these modules import only the standard library when imported, so
``import agentinsight.emit`` stays light.
"""

from agentinsight.formats import otlp_json

__all__ = ["otlp_json"]
