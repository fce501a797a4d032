# The panel and its apply worker: unprivileged, Debian 12, the pinned requirements.
FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv libcrypt1 ca-certificates && rm -rf /var/lib/apt/lists/*
# uid 999 is the one docker/helper.json admits.
RUN adduser --system --uid 999 --group --home /var/lib/mailadmin mailadmin
WORKDIR /opt/mailadmin
COPY requirements.txt .
RUN python3 -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements.txt
COPY . .
RUN MAILADMIN_VAR_DIR=/tmp/build .venv/bin/python manage.py collectstatic --no-input -v0 \
      && rm -rf /tmp/build
USER mailadmin
EXPOSE 8001
CMD [".venv/bin/gunicorn", "--workers", "3", "--bind", "0.0.0.0:8001", "mailadmin.wsgi"]
