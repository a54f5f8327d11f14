#!/bin/sh
# `make compose-smoke`: build the image, bring docker/compose.yml up (with the smoke
# override, docker/smoke/compose.smoke.yml), create an App, send through the API, run a CSV
# campaign, check the public URL in click and unsubscribe links, find the workers' latency
# histogram in Prometheus, check the health checks, stop gracefully and `down -v`.
# Needs a running Docker daemon, docker-compose (v1 or v2) and debootstrap (first run only).
# Not in CI: it takes minutes.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

# A client that builds with BuildKit (build secrets): the classic client with DOCKER_BUILDKIT,
# or one with the buildx plugin.
if [ -z "${DOCKER:-}" ]; then
    DOCKER=docker
    if ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; fi
fi
if [ -z "${COMPOSE:-}" ]; then
    if docker-compose version >/dev/null 2>&1; then COMPOSE=docker-compose; else COMPOSE="$DOCKER compose"; fi
fi
export DOCKER DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
$DOCKER info >/dev/null 2>&1 || { echo "smoke: no Docker daemon reachable" >&2; exit 1; }

# The stack's settings: throwaway secrets; links must come out on this public URL.
export TIDINGS_IMAGE=tidings:smoke
export DJANGO_SECRET_KEY="smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export TIDINGS_ENCRYPTION_KEYS="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')"
export TIDINGS_PUBLIC_URL=https://push.smoke.example
export TIDINGS_METRICS_TOKEN="metrics-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export TIDINGS_ANYMAIL_WEBHOOK_SECRET="anymail:$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# The smoke talks plain HTTP to web (no TLS proxy in front of it here).
export DJANGO_SECURE_SSL_REDIRECT=false
# The slow receiver of the warm-shutdown check listens on loopback.
export TIDINGS_EGRESS_ALLOWLIST=127.0.0.1:18090
export GRAFANA_ADMIN_PASSWORD=unused-in-the-smoke
export DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
# docker/compose.yml + the override, merged by compose itself. With host networking,
# published ports mean nothing and docker refuses them; Compose v1 cannot drop a list in an
# override (no `!reset`), so they are removed from the merged file here.
MERGED=$(mktemp /tmp/tidings-smoke-compose.XXXXXX)
$COMPOSE -p tidings-smoke -f docker/compose.yml -f docker/smoke/compose.smoke.yml config \
    | python3 -c 'import sys, yaml
config = yaml.safe_load(sys.stdin)
for service in config["services"].values():
    if service.get("network_mode") == "host":
        service.pop("ports", None)
yaml.safe_dump(config, sys.stdout, sort_keys=False)' >"$MERGED"
compose() { $COMPOSE -p tidings-smoke -f "$MERGED" "$@"; }
step() { echo "smoke: --- $* ($(date -u +%H:%M:%S))"; }

step "base images"
docker/smoke/base-images.sh

step "building the app image (pip's CA bundle as a build secret)"
PIP_CA=${PIP_CA:-$(pip config get global.cert 2>/dev/null || true)}
[ -s "${PIP_CA:-}" ] || PIP_CA=/etc/ssl/certs/ca-certificates.crt
nice -n 19 $DOCKER build --network host -q -t "$TIDINGS_IMAGE" -f docker/Dockerfile \
    --build-arg PYTHON_IMAGE=tidings-smoke/python:latest --secret "id=pipca,src=$PIP_CA" .
$DOCKER run --rm "$TIDINGS_IMAGE" sh -c 'test ! -e /run/secrets/pipca && test -z "${PIP_CERT:-}"' \
    || { echo "smoke: FAIL the build secret ended up in the image" >&2; exit 1; }
echo "smoke: ok  image $TIDINGS_IMAGE built; no CA bundle or secret in it"

$DOCKER run --rm -v "$ROOT/docker/grafana:/grafana:ro" "$TIDINGS_IMAGE" python -c '
import glob, json, yaml
json.load(open("/grafana/dashboards/tidings-dashboard.json"))
for name in glob.glob("/grafana/provisioning/*/*.yml"):
    assert yaml.safe_load(open(name))["apiVersion"] == 1, name
'
echo "smoke: ok  Grafana provisioning parses (Grafana itself is not packaged by Debian: skipped)"

cleanup() {
    status=$?
    if [ $status -ne 0 ]; then
        step "FAILED: logs"
        compose ps || true
        compose logs --no-color --tail 40 || true
    fi
    step "compose down -v"
    compose down -v --remove-orphans || true
    rm -f "$MERGED"
    exit $status
}
trap cleanup EXIT
compose down -v --remove-orphans >/dev/null 2>&1 || true

step "compose up"
compose up -d --no-build

healthy() {
    cid=$(compose ps -q "$1")
    [ -n "$cid" ] && [ "$($DOCKER inspect -f '{{.State.Health.Status}}' "$cid" 2>/dev/null)" = healthy ]
}
wait_healthy() {
    deadline=$(( $(date +%s) + ${2:-300} ))
    until healthy "$1"; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "smoke: FAIL $1 not healthy" >&2; return 1; }
        sleep 3
    done
    echo "smoke: ok  $1 healthy"
}
wait_healthy web
wait_healthy beat

step "create an App"
KEY=$(compose exec -T web python manage.py create_app smoke | sed -n 's/^API key.*: //p')
[ -n "$KEY" ] || { echo "smoke: FAIL no API key" >&2; exit 1; }
echo "smoke: ok  App 'smoke' created with docker compose exec web python manage.py create_app"

step "health checks"
for service in worker-high worker-normal worker-low worker-campaigns worker-housekeeping; do
    wait_healthy "$service" 240
done
metrics_status=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18000/metrics || true)
if [ "$metrics_status" != 401 ]; then
    echo "smoke: FAIL /metrics without the bearer token answered $metrics_status, not 401"
    exit 1
fi
echo "smoke: ok  /metrics without the bearer token answers 401"

step "API, campaign, links, metrics, Flower, graceful stop"
SMOKE_COMPOSE="$COMPOSE -p tidings-smoke -f $MERGED" python3 docker/smoke/check.py "$KEY"
compose logs --no-color worker-high | grep -q "worker: Warm shutdown" \
    || { echo "smoke: FAIL worker-high did not shut down warm" >&2; exit 1; }
[ "$($DOCKER inspect -f '{{.State.ExitCode}}' "$(compose ps -q worker-high)")" = 0 ] \
    || { echo "smoke: FAIL worker-high exited non-zero" >&2; exit 1; }
echo "smoke: ok  worker-high logged its warm shutdown and exited 0"
echo "smoke: PASSED"
