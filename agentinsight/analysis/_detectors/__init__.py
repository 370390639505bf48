"""The anomaly detectors behind :mod:`agentinsight.analysis.anomaly`, one module per family.

``series`` (scikit-learn estimators over one metric series), ``stream`` (their causal scoring
core), ``volume`` (traffic drops), ``traces`` (detectors over spans), ``wide`` (a metrics
frame as a points × series matrix, scored in blocks of series) and ``findings`` (turning scores
into a findings frame). Nothing here is public: ``anomaly`` is the entry point.
"""
