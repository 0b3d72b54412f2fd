# wire-monitor service image: `wiremon run`, and `wiremon demo-feeds` for the compose demo.
#   docker build -t wire-monitor .
#   docker run --rm -p 9108:9108 -v $PWD/deploy/compose/wiremon.yml:/etc/wiremon/config.yml:ro wire-monitor
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs, so edits to tests or docs do not invalidate the layer.
# (README.md* : pyproject names it as the readme; the glob keeps the build working without it.)
WORKDIR /src
COPY pyproject.toml README.md* ./
COPY monitor ./monitor
RUN pip install . \
    && rm -rf /src

# Non-root; the state directory (SQLite dedup state, outbox) is the only writable place.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/wiremon --shell /usr/sbin/nologin wiremon \
    && mkdir -p /var/lib/wiremon /etc/wiremon \
    && chown wiremon:wiremon /var/lib/wiremon
USER 10001:10001
WORKDIR /var/lib/wiremon
ENV WIREMON_STATE_DIR=/var/lib/wiremon

EXPOSE 9108
CMD ["wiremon", "run", "--config", "/etc/wiremon/config.yml"]
