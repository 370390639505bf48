"""The file and wire formats agentinsight writes and reads, each writer beside its reader.

:mod:`~agentinsight.formats.otlp_json`
    OTLP JSON traces: encoding from the OpenTelemetry SDK's spans (emit's ``file:`` exporter,
    the simulator) and decoding into the spans frame's columns (files, Jaeger api_v3).
:mod:`~agentinsight.formats.openmetrics`
    Timestamped OpenMetrics text: the series lines the simulator writes, the parser
    ``FileSource`` reads them with, and the parsed copy kept beside a file.

Part of the base layer: these modules import only the standard library when imported, so
``import agentinsight.emit`` stays light; numpy, pandas and pyarrow are imported inside the
functions that need them.
"""

from agentinsight.formats import openmetrics, otlp_json

__all__ = ["openmetrics", "otlp_json"]
