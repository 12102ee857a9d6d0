# jcbot serve in a container: `docker build -t jcbot .`, then
#   docker run -d -p 8080:8080 -v jcbot-data:/data -e JCBOT_SECRET=... -e JCBOT_PUBLIC_URL=... jcbot
# Everything jcbot writes (the SQLite file, documents, mail written as files) is in the
# /data volume; JCBOT_DATABASE_URL=postgresql://... puts the database elsewhere. Any other
# command runs the same way: `docker run --rm -v jcbot-data:/data jcbot pending`.
# PYTHON_IMAGE: another Python 3.11+ base image (a mirror of it) when Docker Hub is out of reach.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY jcbot ./jcbot
COPY rules ./rules
COPY templates ./templates
# The wheel carries the rules and templates (jcbot/_shipped) and the migrations.
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --uid 10001 --user-group --create-home --home-dir /home/jcbot --shell /usr/sbin/nologin jcbot \
    && mkdir -p /data \
    && chown jcbot:jcbot /data
ENV JCBOT_STORAGE_DIR=/data JCBOT_HTTP_HOST=0.0.0.0 JCBOT_HTTP_PORT=8080
VOLUME ["/data"]
WORKDIR /data
USER jcbot
EXPOSE 8080
# The slim image has no curl: Python's urllib asks /healthz (any answer but 2xx, or none, is unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('JCBOT_HTTP_PORT', '8080'), timeout=4)"]
# SIGTERM (docker stop) reaches jcbot itself, which finishes its work and exits 0.
ENTRYPOINT ["jcbot"]
CMD ["serve"]
