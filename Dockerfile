FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY jcbot ./jcbot
COPY rules ./rules
COPY templates ./templates
RUN pip install --no-cache-dir . && useradd --create-home jcbot && mkdir -p /data && chown jcbot /data
USER jcbot
ENV JCBOT_STORAGE_DIR=/data
VOLUME /data
EXPOSE 8080
ENV JCBOT_HTTP_HOST=0.0.0.0
CMD ["jcbot", "serve"]
