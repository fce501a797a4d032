# Part 2 of scripts/test-deploy: the README's "Production install on Debian 12", typed into a
# fresh Debian 12 container whose PID 1 is systemd (../shared/DOCKER.md's flags; never
# --privileged, never the host's /sys/fs/cgroup), then the end-to-end checks from a client
# container in its network namespace, a reload of each daemon through the helper, and a
# reboot (the container stopped by systemd's own shutdown and started again), checks again.
# Sourced; needs engine.sh's running engine, $WORK and the test CA.

PROD=mailadmin-ci-production

production_logs() {
  docker inspect "$PROD" >/dev/null 2>&1 || return 0
  echo "== production: failed units and the journal (last 300 lines) ==" >&2
  docker exec "$PROD" systemctl --no-pager --failed >&2 2>&1 || true
  docker exec "$PROD" journalctl --no-pager -n 300 >&2 2>&1 || true
}

production_remove() {
  docker rm -f "$PROD" >/dev/null 2>&1 || true
}

production_booted() {  # systemd up (degraded is an answer: some units do not fit a container)
  local state deadline=$((SECONDS + 120))
  while ((SECONDS < deadline)); do
    state=$(docker exec "$PROD" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) return 0 ;; esac
    sleep 0.5
  done
  echo "systemd did not finish booting: ${state:-no answer}" >&2
  return 1
}

production_services_active() {
  local unit deadline=$((SECONDS + 120)) inactive
  while ((SECONDS < deadline)); do
    inactive=
    for unit in mailadmin-helper mailadmin-apply mailadmin nginx dovecot opensmtpd rspamd; do
      docker exec "$PROD" systemctl is-active --quiet "$unit" || inactive+=" $unit"
    done
    [ -z "$inactive" ] && return 0
    sleep 1
  done
  echo "not active:$inactive" >&2
  docker exec "$PROD" systemctl --no-pager status $inactive >&2 || true
  return 1
}

production_client() {  # production_client PHASE
  timeout 600 docker run --rm --network "container:$PROD" \
    -v "$WORK/tls/ca.pem:/ci/ca.pem:ro" -v "$WORK/secrets-production:/ci/secrets:ro" \
    mailadmin-ci/client "$1" --ca /ci/ca.pem --admin-password-file /ci/secrets/admin-password \
    --dns-address 127.0.0.1 --resolve mailadmin.example.org=127.0.0.1 --resolve mail.example.org=127.0.0.1
}

# Ask the helper as the panel asks it: its own client (export/helper_client.py), as its user,
# with its settings.
production_helper() {  # production_helper JSON
  docker exec -i -u mailadmin -w /opt/mailadmin -e "REQUEST=$1" "$PROD" bash -c \
    'set -a; . /etc/mailadmin/panel.env; set +a; exec .venv/bin/python manage.py shell' <<'PYTHON'
import json, os, sys
from export.helper_client import call
reply = call(json.loads(os.environ["REQUEST"]), timeout=120)
print(json.dumps(reply)[:300])
sys.exit(0 if reply.get("ok") else 1)
PYTHON
}

production_main_pid() { docker exec "$PROD" systemctl show -p MainPID --value "$1"; }

production_reloads() {
  local service unit before after
  for service in dovecot:dovecot smtpd:opensmtpd rspamd:rspamd; do
    unit=${service#*:}
    before=$(production_main_pid "$unit")
    production_helper "{\"op\": \"reload\", \"service\": \"${service%%:*}\"}"
    sleep 1
    docker exec "$PROD" systemctl is-active --quiet "$unit"
    after=$(production_main_pid "$unit")
    engine_log "production: the helper reloaded ${service%%:*} ($unit, main pid $before -> $after)"
  done
  production_helper '{"op": "queue"}'
  production_helper '{"op": "measure_usage"}'
  engine_log "production: the helper's read-only queue and measure_usage answer"
}

# certbot's deploy hook, run as certbot runs it: a renewal of the panel's names reloads nginx
# only; a renewal of the mail name reloads Dovecot and restarts OpenSMTPD (a new main pid).
production_renewal_hook() {
  local hook=/etc/letsencrypt/renewal-hooks/deploy/mailadmin before after
  before=$(production_main_pid opensmtpd)
  docker exec -e RENEWED_LINEAGE=/etc/letsencrypt/live/mailadmin.example.org "$PROD" "$hook"
  after=$(production_main_pid opensmtpd)
  [ "$before" = "$after" ] || { echo "the panel's renewal restarted OpenSMTPD ($before -> $after)" >&2; return 1; }
  docker exec -e RENEWED_LINEAGE=/etc/letsencrypt/live/mail.example.org "$PROD" "$hook"
  after=$(production_main_pid opensmtpd)
  [ "$before" != "$after" ] || { echo "the mail name's renewal left OpenSMTPD running on the old certificate" >&2; return 1; }
  production_services_active
  engine_log "production: the certbot hook reloaded nginx and Dovecot and restarted OpenSMTPD (main pid $before -> $after)"
}

production_check() {
  local started=$SECONDS t
  production_remove
  t=$SECONDS
  timeout 1200 docker build -q -f tests/deploy/systemd.Dockerfile -t mailadmin-ci/debian-systemd . >/dev/null
  timeout 1200 docker build -q -f tests/deploy/client.Dockerfile -t mailadmin-ci/client . >/dev/null
  engine_log "production: images built in $((SECONDS - t)) s"
  timeout 120 docker run -d --name "$PROD" --hostname mail.example.org --cgroupns=private --cap-add SYS_ADMIN \
    --tmpfs /run --tmpfs /run/lock mailadmin-ci/debian-systemd >/dev/null
  production_booted

  # The checkout, where the README's "git clone" would put it, and the test CA's certificates
  # where the install script (tests/deploy/readme_steps.py) takes them from instead of certbot.
  docker exec "$PROD" mkdir -p /opt/mailadmin /ci/tls
  git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
    | tar --null -T - -c | docker exec -i "$PROD" tar -C /opt/mailadmin -x
  local name
  for name in panel:mailadmin.example.org mail:mail.example.org; do
    docker cp "$WORK/tls/${name%%:*}/fullchain.pem" "$PROD:/ci/tls/fullchain-${name#*:}.pem"
    docker cp "$WORK/tls/${name%%:*}/privkey.pem" "$PROD:/ci/tls/privkey-${name#*:}.pem"
  done

  engine_log "production: the README's install, step by step"
  t=$SECONDS
  python3 tests/deploy/readme_steps.py >"$WORK/install.sh"
  timeout 1800 docker exec -i -w /root "$PROD" bash <"$WORK/install.sh" 2>&1 | sed 's/^/    /'
  engine_log "production: installed in $((SECONDS - t)) s"
  mkdir -p "$WORK/secrets-production"
  docker exec "$PROD" sed -n 's/^ *password: *//p' /root/firstadmin.txt >"$WORK/secrets-production/admin-password"
  [ -s "$WORK/secrets-production/admin-password" ] || { echo "no first admin password printed" >&2; return 1; }
  production_services_active

  production_client setup
  production_reloads
  production_renewal_hook
  production_client verify
  engine_log "production: reboot (systemd shuts down, the container starts again, /run is new)"
  t=$SECONDS
  timeout 180 docker restart -t 60 "$PROD" >/dev/null
  production_booted
  production_services_active
  engine_log "production: up again in $((SECONDS - t)) s"
  production_client verify
  production_remove
  engine_log "production: every check passed in $((SECONDS - started)) s"
}
