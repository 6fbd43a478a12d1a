# syntax=docker/dockerfile:1
# Luister's one image: every long-running process (`luister worker`, `luister connect …`,
# `luister setup`, `luister doctor`) runs from it. Small (python slim, no compilers in the
# final stage) and reproducible (pinned base, pinned dependencies from
# deploy/compose/requirements.lock; `make lock` rewrites it from the tested virtualenv).
#
#   docker build -t luister:0.1.0 .
#   docker build --build-arg EXTRAS=ml -t luister:0.1.0-ml .   # + the transformer classifier (model
#                                                              # prepared at build time; torch is large)
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/luister
COPY deploy/compose/requirements.lock /tmp/requirements.lock
RUN /opt/luister/bin/pip install --no-deps -r /tmp/requirements.lock
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY core/ core/
COPY luister/ luister/
COPY pipeline/ pipeline/
COPY connectors/ connectors/
COPY classifiers/ classifiers/
COPY enrichers/ enrichers/
COPY sinks/ sinks/
COPY schemas/ schemas/
COPY data/replies/ data/replies/
COPY data/registry/ data/registry/
# editable: settings resolve data/ and .cache/ next to the code, as in a checkout
RUN /opt/luister/bin/pip install --no-deps -e . \
 && if [ -n "$EXTRAS" ]; then /opt/luister/bin/pip install -e ".[$EXTRAS]" \
      && HF_HUB_OFFLINE=1 /opt/luister/bin/luister model prepare; fi \
 && /opt/luister/bin/python -m compileall -q /app

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/luister/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LUISTER_METRICS_HOST=0.0.0.0 \
    LUISTER_WORKER_DATA_DIR=/data \
    LUISTER_LOG_FORMAT=json
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin luister \
 && mkdir -p /data /app/.cache && chown 10001:10001 /data /app/.cache
COPY --from=build /opt/luister /opt/luister
COPY --from=build /app /app
WORKDIR /app
USER 10001
VOLUME ["/data"]
EXPOSE 6066
ENTRYPOINT ["luister"]
CMD ["worker", "-l", "info"]
