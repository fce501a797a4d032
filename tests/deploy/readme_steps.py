"""Print the README's production install as a shell script, the commands as a new admin types them.

The commands are the first ```sh block under "## Production install on Debian 12", unchanged,
except where the test machine cannot do what the admin's can (each such line is listed here):
- `git clone <this repository> …`: the checkout is already copied to /opt/mailadmin;
- `certbot certonly … -d NAME …`: no ACME server here, so a certificate of the test CA for
  NAME is put where certbot would put it (/etc/letsencrypt/live/NAME/);
- after copying panel.env, the one setting the checks need: the panel's DNS checks ask the test
  nameserver on 127.0.0.1 (as a host with its own resolver would);
- the first admin's password, printed once, is also kept for the checks.
Anything else in the block runs as written, so a README step that breaks breaks the check.
"""

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def commands(readme: str) -> list[str]:
    section = readme.split("\n## Production install on Debian 12", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    if not block:
        raise SystemExit("README: no ```sh block under 'Production install on Debian 12'")
    return block.group(1).splitlines()


def adapt(line: str) -> list[str]:
    if line.startswith("git clone "):
        return ["cd /opt/mailadmin  # README: " + line]
    if line.startswith("certbot certonly"):
        name = re.search(r"-d\s+(\S+)", line).group(1)
        live = f"/etc/letsencrypt/live/{name}"
        return [
            f"# README: {line}",
            f"install -d -m 0755 {live}",
            f"install -m 0644 /ci/tls/fullchain-{name}.pem {live}/fullchain.pem",
            f"install -m 0600 /ci/tls/privkey-{name}.pem {live}/privkey.pem",
        ]
    if "deploy/panel.env.example /etc/mailadmin/panel.env" in line:
        return [line, "echo DNS_RESOLVERS=127.0.0.1 >> /etc/mailadmin/panel.env  # the test nameserver"]
    if "manage.py firstadmin" in line:
        return [line.split("#")[0].rstrip() + " | tee /root/firstadmin.txt"]
    return [line]


def main() -> None:
    lines = commands(README.read_text())
    script = ["set -euxo pipefail", "export DEBIAN_FRONTEND=noninteractive"]
    for line in lines:
        script += adapt(line)
    if not any(line.startswith("cd /opt/mailadmin") for line in script):
        raise SystemExit("README: the install no longer clones into /opt/mailadmin")
    sys.stdout.write("\n".join(script) + "\n")


if __name__ == "__main__":
    main()
