# The mail daemons and the privileged helper, installed with the same script CI uses
# (scripts/install-daemons), so what CI tests is what this image runs.
FROM debian:12
# procps: pkill, with which docker/mail-service signals Rspamd and smtpd.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 ca-certificates procps && rm -rf /var/lib/apt/lists/*
COPY scripts/lib.sh scripts/install-daemons /opt/mailadmin/scripts/
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
      && bash /opt/mailadmin/scripts/install-daemons && rm -rf /var/lib/apt/lists/*
RUN groupadd -g 5000 vmail && useradd -u 5000 -g vmail -d /home/vmail -m -s /usr/sbin/nologin vmail
# The panel (uid and gid 999) writes the staging volume; should this container create the volume
# first, it takes this directory's owner.
RUN install -d -o 999 -g 999 -m 0750 /var/lib/mailadmin/staging \
      && groupadd --system --gid 999 mailadmin  # the panel's group: the helper's socket is 0660, this group
COPY helper/helper.py /opt/mailadmin/helper/helper.py
COPY docker/mail-entrypoint docker/mail-service /usr/local/bin/
COPY docker/helper.json /etc/mailadmin-helper.json
EXPOSE 25 465 587 993 143
ENTRYPOINT ["/usr/local/bin/mail-entrypoint"]
