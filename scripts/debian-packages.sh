#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: the real WooCommerce
# kit (../shared/realstore: nginx, php-fpm, MariaDB), Chromium for the
# till screen's browser tests, and npm (with Node.js) to fetch axe-core for
# their accessibility checks when no npm is installed at all (a Node.js
# from elsewhere is left alone). As root, installs the missing ones; otherwise
# only says which are missing (the tests that need them then skip or fail
# with that reason).
set -euo pipefail
PKGS="php-fpm php-cli php-mysql php-curl php-xml php-mbstring php-intl php-zip php-gd
  mariadb-server nginx-light openssl curl xz-utils chromium fonts-liberation"
command -v npm >/dev/null || PKGS="$PKGS npm"
missing=$(for p in $PKGS; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || echo "$p"
done)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "debian-packages: not root; missing:" $missing >&2
  exit 0
fi
echo "debian-packages: installing" $missing >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
