# A fresh Debian 12 server for the production install check: systemd as PID 1 (run with the
# flags of ../shared/DOCKER.md: --cgroupns=private --cap-add SYS_ADMIN --tmpfs /run
# --tmpfs /run/lock, never --privileged), and what Debian's installer gives a server with a
# root password ("standard system utilities" left out): no git, no sudo, no Python.
FROM debian:12
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd systemd-sysv dbus ca-certificates adduser iproute2 procps less \
      && rm -rf /var/lib/apt/lists/* \
      && systemctl mask getty@tty1.service console-getty.service
ENV container=docker
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
