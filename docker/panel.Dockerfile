# The panel and its apply worker: unprivileged, Debian 12, the pinned requirements.
FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv libcrypt1 ca-certificates && rm -rf /var/lib/apt/lists/*
# uid 999 is the one docker/helper.json admits; gid 999 the group the mail container gives
# the usage directory (docker/mail-entrypoint).
RUN groupadd --system --gid 999 mailadmin \
      && useradd --system --uid 999 --gid mailadmin --home-dir /var/lib/mailadmin --shell /usr/sbin/nologin mailadmin \
      && install -d -o mailadmin -g mailadmin -m 0750 /var/lib/mailadmin /var/lib/mailadmin/staging
# (A new named volume takes the owner of the directory it is mounted on: so the "data" and
# "staging" volumes start out the panel's, whichever container mounts them first.)
WORKDIR /opt/mailadmin
COPY requirements.txt .
RUN python3 -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements.txt
COPY . .
# The static files, for the TLS proxy in front to serve (gunicorn does not): collected here, in
# the image, so they always match its code (tests/deploy/proxy.Dockerfile serves them with nginx).
ENV STATIC_ROOT=/opt/mailadmin/static-root
RUN MAILADMIN_VAR_DIR=/tmp/build .venv/bin/python manage.py collectstatic --no-input -v0 \
      && rm -rf /tmp/build
USER mailadmin
EXPOSE 8001
CMD [".venv/bin/gunicorn", "--workers", "3", "--bind", "0.0.0.0:8001", "mailadmin.wsgi"]
