# syntax=docker/dockerfile:1
# openmates-images: one image for web processes (default) and workers (`worker`).
# .dockerignore keeps local state (.venv, var/ with its keys and database) out of the image.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml ./
# The project installs no packages of its own (setuptools packages = []), so installing it from
# pyproject.toml alone installs exactly the dependencies, and code changes keep this layer cached.
RUN pip install --upgrade pip && pip install .
COPY . .
RUN DATA_DIR=/tmp/build-data SECRET_KEY=build-only python manage.py collectstatic --noinput

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=openmates_images.settings \
    DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000
RUN groupadd --system app && useradd --system --gid app --home /app app \
    && mkdir -p /data && chown app:app /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=app:app /app /app
COPY --from=build --chown=app:app /tmp/build-data/staticfiles /app/staticfiles
WORKDIR /app
USER app
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,os;urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/healthz',timeout=4)"
COPY --chown=app:app scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint
ENTRYPOINT ["docker-entrypoint"]
CMD ["web"]
