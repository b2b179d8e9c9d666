# syntax=docker/dockerfile:1
# CareCentre: build a wheel in one stage, run it as an unprivileged user in the next.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY carecentre ./carecentre
COPY channels ./channels
COPY agent_ui ./agent_ui
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /dist

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CARECENTRE_DATA_DIR=/var/lib/carecentre \
    CARECENTRE_HTTP_HOST=0.0.0.0 \
    CARECENTRE_SMTP_HOST=0.0.0.0
RUN groupadd --system carecentre \
    && useradd --system --gid carecentre --home-dir /var/lib/carecentre --create-home carecentre
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER carecentre
WORKDIR /var/lib/carecentre
VOLUME ["/var/lib/carecentre"]
EXPOSE 8000 2525
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["carecentre", "serve"]
