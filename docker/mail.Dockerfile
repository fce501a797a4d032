# The mail daemons and the privileged helper, installed with the same script CI uses
# (scripts/install-daemons), so what CI tests is what this image runs.
FROM debian:12
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY scripts/lib.sh scripts/install-daemons /opt/mailadmin/scripts/
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
      && bash /opt/mailadmin/scripts/install-daemons && rm -rf /var/lib/apt/lists/*
RUN groupadd -g 5000 vmail && useradd -u 5000 -g vmail -d /home/vmail -m -s /usr/sbin/nologin vmail
COPY helper/helper.py /opt/mailadmin/helper/helper.py
COPY docker/mail-entrypoint docker/mail-service /usr/local/bin/
COPY docker/helper.json /etc/mailadmin-helper.json
EXPOSE 25 465 587 993 143
ENTRYPOINT ["/usr/local/bin/mail-entrypoint"]
