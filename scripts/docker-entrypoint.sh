#!/bin/sh
# `web` (default): migrate, then serve HTTP + WebSocket with uvicorn (WEB_CONCURRENCY processes).
# `worker`: Dramatiq worker processes for the app_images queue. Anything else runs as given.
set -e
case "${1:-web}" in
  web)
    python manage.py migrate --noinput
    exec uvicorn openmates_images.asgi:application --host 0.0.0.0 --port "${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-2}" --proxy-headers --no-access-log
    ;;
  worker)
    exec python manage.py run_workers --processes "${WORKER_PROCESSES:-2}" --threads "${WORKER_THREADS:-4}"
    ;;
  *)
    exec "$@"
    ;;
esac
