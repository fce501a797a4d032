# Shared by scripts/serve and scripts/test: Debian packages and the project's virtualenv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Every apt-get waits up to five minutes for a lock held by another (an unattended upgrade).
APT_GET=(apt-get -o DPkg::Lock::Timeout=300)

# apt-get update, then apt-get install with these arguments. Debian's postinst scripts would
# start system-wide daemons (tests start their own): a policy-rc.d holds them back, and is
# removed again afterwards if this made it.
apt_get_install() {
  local made_policy="" status=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  as_root "${APT_GET[@]}" update -qq >&2 \
    && as_root env DEBIAN_FRONTEND=noninteractive "${APT_GET[@]}" install -y -qq --no-install-recommends "$@" >/dev/null \
    || status=$?
  if [ -n "$made_policy" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
  return "$status"
}

# Install Debian packages that are not installed yet (no upgrade of anything else).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing Debian packages: ${missing[*]}" >&2  # stderr: scripts/postgres prints only its URL
  apt_get_install --no-upgrade "${missing[@]}"
}

# Create .venv if needed and install the pinned requirements file given.
ensure_venv() {
  local requirements=$1
  if ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    apt_install python3-venv
  fi
  [ -x .venv/bin/python ] || python3 -m venv .venv
  local stamp=".venv/.installed-$(basename "$requirements")"
  if [ ! -e "$stamp" ] || [ "$requirements" -nt "$stamp" ]; then
    .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
    touch "$stamp"
  fi
}
