# PostgreSQL 15 from Debian's own package (what a Debian 12 host runs), initialised on first
# start as the official postgres image is: POSTGRES_USER (a superuser), POSTGRES_PASSWORD,
# POSTGRES_DB, the data in /var/lib/postgresql/data. uid 999 and the en_US.UTF-8 locale as
# there, so a volume made by that image keeps working.
FROM debian:12-slim
RUN groupadd --system --gid 999 postgres \
      && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres \
      && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
         postgresql-15 postgresql-client-15 locales && rm -rf /var/lib/apt/lists/* \
      && sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen \
      && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
      && install -d -o postgres -g postgres -m 2775 /var/run/postgresql
COPY docker/postgres-entrypoint /usr/local/bin/
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
USER postgres
VOLUME /var/lib/postgresql/data
EXPOSE 5432
# A fast shutdown, as the official image does.
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
