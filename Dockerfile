# clippost: web and worker image. Build with `docker build -t clippost .`; compose.yaml runs
# the whole set (PostgreSQL, two web processes behind Caddy, two workers, Mailpit).

# Stage 1: build clippost and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN python -m venv /opt/clippost && /opt/clippost/bin/pip install .

# Stage 2: the same slim base with only the environment, run as an unprivileged user.
FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/clippost clippost
COPY --from=build /opt/clippost /opt/clippost
ENV PATH=/opt/clippost/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CLIPPOST_DATA_DIR=/var/lib/clippost
WORKDIR /var/lib/clippost
USER clippost
EXPOSE 8000
# /healthz answers without touching the database: "the process is up". Workers serve no
# HTTP; compose.yaml turns the check off for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["clippost"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
