#!/bin/sh
# Render alertmanager.yml's credentials from environment variables, then start Alertmanager.
# Alertmanager 0.25 does not expand variables in its configuration: Slack and PagerDuty read
# their credentials from the files written here (api_url_file, routing_key_file), and the
# webhook URL is substituted into a copy of the configuration.
#
#   SLACK_WEBHOOK_URL, PAGERDUTY_ROUTING_KEY, ALERT_WEBHOOK_URL   (all optional)
#   ALERTMANAGER_CONFIG   source configuration   (default /etc/alertmanager/alertmanager.yml)
#   ALERTMANAGER_RENDERED rendered configuration (default /tmp/alertmanager.yml)
#   ALERTMANAGER_SECRETS  secrets directory      (default /tmp/alertmanager-secrets)
#
# Usage: alertmanager-entrypoint.sh /bin/alertmanager --config.file=/tmp/alertmanager.yml ...
set -eu
src="${ALERTMANAGER_CONFIG:-/etc/alertmanager/alertmanager.yml}"
out="${ALERTMANAGER_RENDERED:-/tmp/alertmanager.yml}"
secrets="${ALERTMANAGER_SECRETS:-/tmp/alertmanager-secrets}"
default_webhook="http://localhost:9099/alerts"

mkdir -p "$secrets"
umask 077
printf '%s' "${SLACK_WEBHOOK_URL:-}" > "$secrets/slack_api_url"
printf '%s' "${PAGERDUTY_ROUTING_KEY:-}" > "$secrets/pagerduty_routing_key"
[ -n "${SLACK_WEBHOOK_URL:-}" ] || echo "alertmanager-entrypoint: SLACK_WEBHOOK_URL unset; Slack notifications will fail" >&2
[ -n "${PAGERDUTY_ROUTING_KEY:-}" ] || echo "alertmanager-entrypoint: PAGERDUTY_ROUTING_KEY unset; PagerDuty notifications will fail" >&2

webhook="${ALERT_WEBHOOK_URL:-$default_webhook}"
case "$webhook" in
  http://*|https://*) ;;
  *) echo "alertmanager-entrypoint: ALERT_WEBHOOK_URL must start with http:// or https://, got '$webhook'" >&2; exit 2 ;;
esac
# '|' cannot appear unescaped in a URL, so it is a safe sed delimiter; escape '&' and '\'.
escaped=$(printf '%s' "$webhook" | sed -e 's/[\\&|]/\\&/g')
umask 022
sed -e "s|url: $default_webhook|url: $escaped|" "$src" > "$out"
exec "$@"
