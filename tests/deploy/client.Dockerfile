# The deployment checks' client: tests/deploy/e2e.py with Debian's Python, dkimpy and dnspython,
# and nsd to serve the zone the panel offers.
FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-dkim python3-dnspython nsd ca-certificates && rm -rf /var/lib/apt/lists/*
COPY tests/deploy/e2e.py /usr/local/bin/e2e.py
ENTRYPOINT ["python3", "/usr/local/bin/e2e.py"]
