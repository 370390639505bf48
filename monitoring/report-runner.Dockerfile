# The scheduled-report runner of docker-compose.monitoring.yml: agentinsight with its analysis
# and notebook extras, running `agentinsight schedule` (see monitoring/schedules.yaml).
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agentinsight ./agentinsight
RUN pip install ".[analysis,notebooks]" \
    && useradd --create-home --uid 10001 agentinsight \
    && mkdir -p /work/reports \
    && chown -R agentinsight /work

WORKDIR /work
COPY --chown=agentinsight notebooks ./notebooks
USER agentinsight
CMD ["agentinsight", "schedule", "--config", "/etc/agentinsight/schedules.yaml"]
