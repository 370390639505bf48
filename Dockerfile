# The report runner / scheduler image used by docker-compose.monitoring.yml and deploy/.
FROM python:3.11-slim
WORKDIR /srv/agentinsight
COPY pyproject.toml README.md ./
COPY agentinsight ./agentinsight
COPY notebooks ./notebooks
COPY deploy ./deploy
RUN pip install --no-cache-dir '.[all]' && python -m ipykernel install --sys-prefix
ENV AGENTINSIGHT_NOTEBOOKS=/srv/agentinsight/notebooks
ENTRYPOINT ["agentinsight"]
CMD ["schedule", "--config", "deploy/schedules.yaml"]
