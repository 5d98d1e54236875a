#!/bin/sh
# Installs the real Postfix that tests/policy/test_postfix_e2e.py drives (and postfix-lmdb, the
# baseline for the policy benchmark). Idempotent and non-interactive, for CI and for a dev box.
# The Debian package's postinst wants a mail setup; "No configuration" leaves /etc/postfix
# without a main.cf and starts nothing, which is what the tests want: they run a private instance.
set -eu

if command -v postfix >/dev/null 2>&1 && dpkg -s postfix-lmdb >/dev/null 2>&1; then
    echo "postfix and postfix-lmdb already installed"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update
apt-get install -y --no-install-recommends postfix postfix-lmdb
