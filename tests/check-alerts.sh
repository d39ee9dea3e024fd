#!/bin/sh
# SPDX-License-Identifier: ISC
# The example alerting rules of docs/tcpxd-alerts.yml are valid Prometheus
# rules (promtool check rules) and fire when they should, not before
# (promtool test rules tests/alerts-test.yml).  Without promtool (Debian:
# prometheus) this is skipped, except in CI, where it fails.
set -u
top=${TCPXD_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 99
if ! command -v promtool >/dev/null 2>&1; then
  case "${CI:-}" in
    ""|0|false) echo "promtool is not installed: alert rules not checked"; exit 77 ;;
    *) echo "promtool is not installed, and CI=$CI: the alert rules must be checked"; exit 1 ;;
  esac
fi
promtool check rules docs/tcpxd-alerts.yml || exit 1
promtool test rules tests/alerts-test.yml || exit 1
