#!/usr/bin/env bash
# Installs what test/support/wordpress.ts starts for the publish and enrich tests: Debian's WordPress (files only,
# under /usr/share/wordpress) with its bundled themes, Apache with mod_php and PHP's MySQL and GD extensions, MariaDB and
# openssl. The package scripts may start the system's apache2/mariadb: the tests never use them (they start their own
# on free loopback ports with generated configuration), and where no init system runs nothing is started at all.
# Idempotent: reruns only check. Runs as root on a fresh Debian machine (CI).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need=()
[ -f /usr/share/wordpress/wp-load.php ] || need+=(wordpress)
# Every theme Debian packages for WordPress: the enrich corpus (test/enrich/corpus/wordpress.ts) mirrors each one.
for theme in twentytwentyone twentytwentytwo twentytwentythree; do
  [ -d "/usr/share/wordpress/wp-content/themes/$theme" ] || need+=("wordpress-theme-$theme")
done
[ -x /usr/sbin/apache2 ] || need+=(apache2)
ls /usr/lib/apache2/modules/libphp*.so >/dev/null 2>&1 || need+=(libapache2-mod-php)
php -m 2>/dev/null | grep -qx mysqli || need+=(php-mysql)
php -m 2>/dev/null | grep -qx gd || need+=(php-gd)
php -m 2>/dev/null | grep -qx xml || need+=(php-xml) # XML-RPC (the post marker) parses with ext/xml
command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server mariadb-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v wget >/dev/null 2>&1 || need+=(wget) # the enrich corpus mirrors WordPress with wget --mirror

if [ "${#need[@]}" -gt 0 ]; then
  echo "setup-wordpress: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "setup-wordpress: wordpress $(dpkg-query -W -f '${Version}' wordpress 2>/dev/null || echo '?'), apache2 $(dpkg-query -W -f '${Version}' apache2 2>/dev/null || echo '?'), php $(php -r 'echo PHP_VERSION;'), mariadb $(dpkg-query -W -f '${Version}' mariadb-server 2>/dev/null || echo '?')"
