# A private Docker engine for the deployment checks (sourced by scripts/test-deploy).
#
# ../shared/DOCKER.md has the measured facts. Several runs may share this machine (a developer's
# and CI's), and the machine's network is everyone's, so each run takes a free "slot" (a lock
# held for the whole run) and its engine has its own data root, exec root, socket, bridge and
# address pool; it never publishes a port, never touches another run's rules, and undoes
# everything it changed when it stops:
# - the bridge is made here (mabrN) and given to dockerd with -b; dockerd runs with
#   --iptables=false, so it adds no chains or rules and leaves the FORWARD policy alone;
# - the one NAT rule (containers reach Debian's mirror and PyPI for builds) and two FORWARD
#   rules are ours, tagged with a comment, and deleted at the end;
# - net.ipv4.ip_forward is switched on, and put back to what it was when no other slot is in use.
# The data root is kept between runs (the base image and the build cache), one per slot.

DEPLOY_ROOT=${MAILADMIN_DEPLOY_DIR:-/var/tmp/mailadmin-deploy}  # kept: base image, build cache
# The slots are the machine's, whatever DEPLOY_ROOT a run keeps its cache in; and in /run, so
# that the saved ip_forward value is forgotten at a reboot, as ip_forward itself is.
DEPLOY_LOCKS=/run/lock/mailadmin-deploy
DEPLOY_SLOTS=8

engine_log() { echo "== deploy: $*" >&2; }

engine_take_slot() {
  mkdir -p "$DEPLOY_ROOT" "$DEPLOY_LOCKS"
  local n
  for ((n = 0; n < DEPLOY_SLOTS; n++)); do
    exec {ENGINE_LOCK_FD}>"$DEPLOY_LOCKS/slot$n.lock"
    if flock -n "$ENGINE_LOCK_FD"; then
      SLOT=$n
      return 0
    fi
    exec {ENGINE_LOCK_FD}>&-
  done
  echo "every deployment slot ($DEPLOY_SLOTS) is in use on this machine" >&2
  return 1
}

# Addresses of slot N: 10.(200+N).0.0/16, far from the machine's own networks (checked below).
engine_addresses() {
  NET_PREFIX=10.$((200 + SLOT))
  NET_ALL=$NET_PREFIX.0.0/16
  BRIDGE=mabr$SLOT
  BRIDGE_CIDR=$NET_PREFIX.0.1/24
  POOL="base=$NET_PREFIX.64.0/18,size=24"
  # The compose project's network (fixed, so the panel can be told the test nameserver's address).
  export DEPLOY_SUBNET=$NET_PREFIX.16.0/24 DEPLOY_CLIENT_IP=$NET_PREFIX.16.200
  if ip -4 route show | grep -v "dev $BRIDGE" | grep -q "^$NET_PREFIX\."; then
    echo "$NET_ALL is already routed on this machine: choose another MAILADMIN_DEPLOY_DIR or free it" >&2
    return 1
  fi
}

engine_with_global_lock() {
  local fd status=0
  exec {fd}>"$DEPLOY_LOCKS/global.lock"
  flock -w 60 "$fd"
  "$@" || status=$?
  exec {fd}>&-
  return "$status"
}

engine_forwarding_on() {
  if [ ! -e "$DEPLOY_LOCKS/ip_forward.saved" ]; then
    cat /proc/sys/net/ipv4/ip_forward >"$DEPLOY_LOCKS/ip_forward.saved"
  fi
  echo 1 >/proc/sys/net/ipv4/ip_forward
}

engine_forwarding_restore() {
  local n fd
  [ -e "$DEPLOY_LOCKS/ip_forward.saved" ] || return 0
  for ((n = 0; n < DEPLOY_SLOTS; n++)); do
    [ "$n" = "$SLOT" ] && continue
    exec {fd}>"$DEPLOY_LOCKS/slot$n.lock"
    if ! flock -n "$fd"; then  # another run still needs forwarding
      exec {fd}>&-
      return 0
    fi
    exec {fd}>&-
  done
  cat "$DEPLOY_LOCKS/ip_forward.saved" >/proc/sys/net/ipv4/ip_forward
  rm -f "$DEPLOY_LOCKS/ip_forward.saved"
}

engine_rules() {  # engine_rules -A|-D: our NAT and FORWARD rules, each tagged with the slot
  local tag="mailadmin-deploy-$SLOT"
  iptables -w -t nat "$1" POSTROUTING -s "$NET_ALL" ! -d "$NET_ALL" -m comment --comment "$tag" -j MASQUERADE
  iptables -w "$1" FORWARD -s "$NET_ALL" -m comment --comment "$tag" -j ACCEPT
  iptables -w "$1" FORWARD -d "$NET_ALL" -m comment --comment "$tag" -j ACCEPT
}

engine_undo_network() {
  local tag="mailadmin-deploy-$SLOT"
  while iptables -w -t nat -S POSTROUTING 2>/dev/null | grep -q -- "$tag"; do engine_rules -D 2>/dev/null || break; done
  # Anything left with our tag (a partial earlier run), removed rule by rule.
  local table chain rule
  for table in nat filter; do
    iptables -w -t "$table" -S 2>/dev/null | grep -- "--comment $tag" | while read -r _ chain rule; do
      eval "iptables -w -t $table -D $chain $rule" 2>/dev/null || true
    done || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  engine_with_global_lock engine_forwarding_restore
}

# A dockerd left by a run that was killed (its lock is free now, and we hold it).
engine_stop_stale() {
  local pidfile=$ENGINE_DIR/dockerd.pid pid
  if [ -s "$pidfile" ] && pid=$(cat "$pidfile") && kill -0 "$pid" 2>/dev/null \
    && grep -qa -- "$ENGINE_DIR" "/proc/$pid/cmdline" 2>/dev/null; then
    engine_log "stopping a dockerd left by an earlier run (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$pidfile"
}

engine_start() {
  engine_take_slot
  engine_addresses
  ENGINE_DIR=$DEPLOY_ROOT/slot$SLOT
  mkdir -p "$ENGINE_DIR"
  engine_stop_stale
  engine_undo_network
  engine_log "slot $SLOT: engine in $ENGINE_DIR, bridge $BRIDGE ($BRIDGE_CIDR), containers in $NET_ALL"
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  engine_with_global_lock engine_forwarding_on
  engine_rules -A
  export DOCKER_HOST=unix://$ENGINE_DIR/docker.sock
  # Short paths: the exec root holds unix sockets (108 bytes at most).
  setsid dockerd --data-root "$ENGINE_DIR/data" --exec-root "/run/mailadmin-deploy-$SLOT" \
    --pidfile "$ENGINE_DIR/dockerd.pid" -H "$DOCKER_HOST" -b "$BRIDGE" --iptables=false \
    --default-address-pool "$POOL" --containerd-namespace "mailadmin-deploy-$SLOT" \
    --containerd-plugins-namespace "mailadmin-deploy-$SLOT-plugins" \
    >"$ENGINE_DIR/dockerd.log" 2>&1 </dev/null {ENGINE_LOCK_FD}>&- &
  ENGINE_PID=$!
  for _ in $(seq 300); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$ENGINE_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "dockerd did not start:" >&2
  tail -30 "$ENGINE_DIR/dockerd.log" >&2
  return 1
}

engine_stop() {
  if [ -n "${ENGINE_PID:-}" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
    # Containers still running (a failed check) are stopped first, so dockerd exits promptly.
    docker ps -q 2>/dev/null | xargs -r docker stop -t 5 >/dev/null 2>&1 || true
    # What the kept data root would otherwise pile up: the images a rebuild replaced (the
    # layers of the current ones stay, as the build cache) and volumes nothing uses.
    timeout 120 docker image prune -f >/dev/null 2>&1 || true
    timeout 60 docker volume prune -f >/dev/null 2>&1 || true
    kill -TERM "$ENGINE_PID"
    for _ in $(seq 300); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$ENGINE_PID" 2>/dev/null || true
  fi
  ENGINE_PID=
  # dockerd's containerd, if it outlived it.
  if [ -n "${SLOT:-}" ]; then
    engine_undo_network
    umount "/run/mailadmin-deploy-$SLOT/netns/"* 2>/dev/null || true
    rm -rf "/run/mailadmin-deploy-$SLOT" 2>/dev/null || true
  fi
}

# The local base image: Debian 12 from the machine's own mirror (no registry is reachable), with
# the machine's apt settings and extra certificate authorities (the egress proxy's, without
# which nothing in a container reaches PyPI; /etc/pip.conf points pip at them), tagged with
# every "FROM debian:…" the Dockerfiles name, so they stay the ordinary ones a user builds
# elsewhere.
engine_base_names() {
  grep -hoE '^FROM[[:space:]]+debian:[^[:space:]]+' docker/*.Dockerfile tests/deploy/*.Dockerfile 2>/dev/null \
    | awk '{print $2}' | sort -u
}

engine_base_stamp() {
  {
    echo 5  # bump to rebuild the root file system
    cat /etc/apt/sources.list.d/debian.sources /etc/apt/apt.conf.d/* 2>/dev/null
    cat /usr/local/share/ca-certificates/*.crt 2>/dev/null
  } | sha256sum | cut -c1-16
}

engine_make_rootfs() {
  local rootfs=$DEPLOY_ROOT/rootfs stamp
  stamp=$(engine_base_stamp)
  if [ -e "$rootfs.stamp" ] && [ "$(cat "$rootfs.stamp")" = "$stamp" ]; then return 0; fi
  rm -rf "$rootfs" "$rootfs.tmp" "$rootfs.stamp"
  local mirror
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  engine_log "debootstrap bookworm from $mirror (about two minutes, once)"
  local started=$SECONDS
  if ! debootstrap --variant=minbase bookworm "$rootfs.tmp" "$mirror" >"$DEPLOY_ROOT/debootstrap.log" 2>&1; then
    tail -20 "$DEPLOY_ROOT/debootstrap.log" >&2
    return 1
  fi
  rm -f "$rootfs.tmp"/var/cache/apt/archives/*.deb "$rootfs.tmp"/var/lib/apt/lists/*_Packages 2>/dev/null || true
  # As the official image: deb822 sources (bookworm, -updates, -security), here this machine's.
  rm -f "$rootfs.tmp/etc/apt/sources.list"
  grep -v '^#' /etc/apt/sources.list.d/debian.sources >"$rootfs.tmp/etc/apt/sources.list.d/debian.sources"
  local conf
  for conf in /etc/apt/apt.conf.d/*; do
    grep -qiE 'Check-Valid-Until|Check-Date|proxy' "$conf" && cp "$conf" "$rootfs.tmp/etc/apt/apt.conf.d/"
  done
  mkdir -p "$rootfs.tmp/usr/local/share/ca-certificates"
  if cp /usr/local/share/ca-certificates/*.crt "$rootfs.tmp/usr/local/share/ca-certificates/" 2>/dev/null; then
    # pip (in a virtualenv: its own certifi) must trust them too; apt's ca-certificates, once a
    # Dockerfile installs it, puts them into /etc/ssl/certs/ca-certificates.crt.
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs.tmp/etc/pip.conf"
  fi
  mv "$rootfs.tmp" "$rootfs"
  echo "$stamp" >"$rootfs.stamp"
  engine_log "base root file system made in $((SECONDS - started)) s"
}

engine_base_image() {
  local stamp names name
  stamp=$(engine_base_stamp)
  mapfile -t names < <(engine_base_names)
  if [ "$(docker image inspect -f '{{index .Config.Labels "mailadmin.base"}}' "${names[0]}" 2>/dev/null)" = "$stamp" ]; then
    local missing=0
    for name in "${names[@]}"; do docker image inspect "$name" >/dev/null 2>&1 || missing=1; done
    [ "$missing" = 0 ] && return 0
  fi
  local fd
  exec {fd}>"$DEPLOY_ROOT/rootfs.lock"
  flock -w 600 "$fd"
  engine_make_rootfs || { exec {fd}>&-; return 1; }
  engine_log "importing the base image as ${names[*]}"
  tar -C "$DEPLOY_ROOT/rootfs" -c . | docker import -c 'CMD ["bash"]' -c "LABEL mailadmin.base=$stamp" - "${names[0]}" >/dev/null
  exec {fd}>&-
  for name in "${names[@]:1}"; do docker tag "${names[0]}" "$name"; done
}
