# CI's TLS proxy in front of the compose stack: Debian's nginx with deploy/nginx-mailadmin.conf
# as it is (in the panel's network namespace, so 127.0.0.1:8001 is the panel, as on a host),
# serving the static files the panel image collected.
ARG PANEL_IMAGE
FROM ${PANEL_IMAGE}
USER root
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
      && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
COPY deploy/nginx-mailadmin.conf /etc/nginx/sites-enabled/mailadmin
RUN install -d /var/lib/mailadmin && cp -a "$STATIC_ROOT" /var/lib/mailadmin/static
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
