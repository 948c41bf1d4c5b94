# jamsosbot: the web app (webhooks, REST channel, parse API, staff console) and its workers.
#   docker build -t jamsosbot .
#   docker run --env-file .env -p 5005:5005 jamsosbot
# The default command migrates the database, then serves under WEB_WORKERS uvicorn workers; the same image
# runs the inbox workers (`jamsosbot inbox-worker`) and the broadcast worker (`jamsosbot worker`).
# docker-compose.yml wires them to PostgreSQL and Redis; docs/deploy.md explains the settings.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A system user of its own: the process never runs as root, and can write only its home (key file, NLU cache).
RUN groupadd --system --gid 10001 jamsosbot \
    && useradd --system --uid 10001 --gid jamsosbot --home-dir /var/lib/jamsosbot --create-home \
       --shell /usr/sbin/nologin jamsosbot

WORKDIR /src
# Metadata first: the dependency layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir bot nlu flows storage && pip install . && pip uninstall -y jamsosbot
COPY bot ./bot
COPY nlu ./nlu
COPY flows ./flows
COPY storage ./storage
RUN pip install --no-deps . && rm -rf /src/build

WORKDIR /var/lib/jamsosbot
USER jamsosbot
ENV JAMSOSBOT_ENV=production \
    NLU_CACHE_DIR=/var/lib/jamsosbot/nlu \
    DATA_KEY_FILE=/var/lib/jamsosbot/data.key \
    WEB_WORKERS=2

EXPOSE 5005
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=5 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:5005/health', timeout=4).status != 200)"]

CMD ["sh", "-c", "jamsosbot db upgrade && exec jamsosbot serve --host 0.0.0.0 --port 5005 --workers \"$WEB_WORKERS\""]
