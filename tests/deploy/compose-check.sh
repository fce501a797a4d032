# Part 1 of scripts/test-deploy: the compose stack, built and run as the README's "With
# docker-compose" says, with tests/deploy/compose-ci.yml instead of the port-publishing
# docker-compose.override.yml, on PostgreSQL. Sourced; needs engine.sh's running engine, and
# $WORK (a scratch directory) and the test CA ($WORK/tls, made by make_test_certificates).

DC=(docker-compose -p mailadmin-ci -f docker-compose.yml -f tests/deploy/compose-ci.yml --profile postgres)

compose_logs() {
  [ -n "${COMPOSE_STARTED:-}" ] || return 0
  echo "== compose: the stack's logs (last 150 lines of each) ==" >&2
  local service
  for service in postgres panel worker mail proxy; do
    echo "---- $service" >&2
    "${DC[@]}" logs --no-color --tail=150 "$service" >&2 2>&1 || true
  done
}

compose_down() {
  [ -n "${COMPOSE_STARTED:-}" ] || return 0
  "${DC[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
}

compose_wait_healthy() {  # compose_wait_healthy SERVICE SECONDS
  local id status deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    id=$("${DC[@]}" ps -q "$1" 2>/dev/null || true)
    if [ -n "$id" ]; then
      status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || true)
      [ "$status" = healthy ] && return 0
    fi
    sleep 1
  done
  echo "$1 is not healthy after $2 s (${status:-no container})" >&2
  return 1
}

compose_client() {  # compose_client PHASE: the checks, from the client container
  timeout 600 "${DC[@]}" --profile client run --rm -T client "$1" --ca /ci/ca.pem \
    --admin-password-file /ci/secrets/admin-password --dns-address "$DEPLOY_CLIENT_IP"
}

compose_check() {
  local started=$SECONDS t
  export DEPLOY_TLS=$WORK/tls DEPLOY_SECRETS=$WORK/secrets
  mkdir -p "$DEPLOY_SECRETS"
  # What .env would hold (docker/env.example), in the environment instead: compose reads both.
  export SECRET_KEY DKIM_ENCRYPTION_KEY POSTGRES_PASSWORD
  SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
  DKIM_ENCRYPTION_KEY=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')
  POSTGRES_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(20))')
  export ALLOWED_HOSTS=mailadmin.example.org CSRF_TRUSTED_ORIGINS=https://mailadmin.example.org
  export TRUSTED_PROXIES=127.0.0.1,::1 MAIL_HOSTNAME=mail.example.org
  export DATABASE_URL=postgres://mailadmin:$POSTGRES_PASSWORD@postgres/mailadmin
  COMPOSE_STARTED=1
  compose_down  # a stack left by a killed run

  engine_log "compose: building the images (only what changed)"
  t=$SECONDS
  timeout 1800 "${DC[@]}" build panel
  timeout 1800 "${DC[@]}" --profile client build --parallel
  engine_log "compose: images built in $((SECONDS - t)) s"

  # The README's steps: the database, migrate, the first admin, then the stack.
  timeout 300 "${DC[@]}" up -d postgres
  compose_wait_healthy postgres 120
  timeout 300 "${DC[@]}" run --rm -T panel .venv/bin/python manage.py migrate --no-input -v0
  timeout 120 "${DC[@]}" run --rm -T panel .venv/bin/python manage.py firstadmin >"$WORK/firstadmin.txt"
  sed -n 's/^ *password: *//p' "$WORK/firstadmin.txt" >"$DEPLOY_SECRETS/admin-password"
  [ -s "$DEPLOY_SECRETS/admin-password" ] || { cat "$WORK/firstadmin.txt" >&2; return 1; }
  timeout 300 "${DC[@]}" up -d
  compose_wait_healthy panel 180
  engine_log "compose: the stack is up ($((SECONDS - started)) s so far)"

  compose_client setup
  engine_log "compose: down and up again (new containers, the same named volumes)"
  timeout 300 "${DC[@]}" down
  timeout 300 "${DC[@]}" up -d
  compose_wait_healthy panel 180
  compose_client verify
  timeout 300 "${DC[@]}" down -v
  engine_log "compose: every check passed in $((SECONDS - started)) s"
}
