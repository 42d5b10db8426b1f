# searchqa's HTTP service in a slim image that runs as an unprivileged user.
# Build from the repository root:  docker build -t searchqa:0.1.0 .
# deploy/compose.yaml and deploy/k8s/ run it; settings come from SEARCHQA_* variables. It needs
# a model server (SEARCHQA_LLM__BASE_URL: the embedded model is not in the image), and its two
# workers need Redis (SEARCHQA_REDIS__URL), or run one: -e SEARCHQA_SERVER__WORKERS=1.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/searchqa
COPY pyproject.toml README.md ./
COPY templates ./templates
COPY docs ./docs
COPY searchqa ./searchqa
RUN /opt/searchqa/bin/pip install .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/searchqa/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    XDG_DATA_HOME=/data \
    SEARCHQA_SERVER__HOST=0.0.0.0 \
    SEARCHQA_SERVER__PORT=8000 \
    SEARCHQA_SERVER__WORKERS=2
RUN useradd --system --uid 10001 --create-home --home-dir /home/searchqa searchqa \
    && mkdir /data \
    && chown searchqa:searchqa /data
COPY --from=build /opt/searchqa /opt/searchqa
# The local index lives in /data (SEARCHQA_INDEX__PATH defaults under XDG_DATA_HOME).
VOLUME ["/data"]
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["searchqa", "serve"]
