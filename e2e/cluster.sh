#!/usr/bin/env bash
# A local Kubernetes control plane for the real-engine e2e tests, from the binaries that
# e2e/toolchain.sh builds: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# (one fake node; pods become Ready without a kubelet). Everything listens on 127.0.0.1 only.
#
#   eval "$(e2e/cluster.sh up)"   start (building the toolchain first if needed); stdout is only
#                                 `export` lines: KUBECONFIG, PATH, PULUMI_* (offline, file backend)
#   e2e/cluster.sh env            print those export lines again for a running cluster
#   e2e/cluster.sh seed [FILE [ARGS...]]
#                                 kubectl apply --server-side --field-manager=Terraform ARGS -f FILE
#                                 (default e2e/seed/app.yaml), then wait for its Deployments
#   In scripts prefer  env="$(e2e/cluster.sh up)" && eval "$env"  : eval of a failed up's empty
#   output succeeds silently.
#   e2e/cluster.sh status         what is running (exit 0 only if everything is)
#   e2e/cluster.sh ports          the four ports `up` would listen on now, one `NAME=port` a line
#   e2e/cluster.sh down           stop everything `up` started (by pidfile) and remove the state
#
# State (certs, token, kubeconfig, pidfiles, logs, etcd data, Pulumi home and file backend):
#   ${PG_RECOVERY_E2E_DIR:-/tmp/pg-recovery-e2e}
# Ports: outside the kernel's ephemeral range (ip_local_port_range), where no outbound
# connection can be holding one: by default 29379/29380 etcd, 29443 apiserver, 29470 kwok
# (below Linux's default range 32768-60999); where this machine's range covers a default, or a
# port is in use, `up` takes a free one outside the range, and starts again on other ports if a
# port is taken while it starts. A port set by env is used as given (and refused if in use):
#   PG_RECOVERY_E2E_ETCD_PORT, PG_RECOVERY_E2E_ETCD_PEER_PORT, PG_RECOVERY_E2E_APISERVER_PORT,
#   PG_RECOVERY_E2E_KWOK_PORT
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$E2E_DIR/versions.env"

STATE="${PG_RECOVERY_E2E_DIR:-/tmp/pg-recovery-e2e}"
# Set by choose_ports (`up`, `ports`).
ETCD_PORT="" ETCD_PEER_PORT="" APISERVER_PORT="" KWOK_PORT=""
NODE_NAME="kwok-node-0"
# A test-only passphrase for the file backend's secrets provider (the state is thrown away).
PASSPHRASE="${PG_RECOVERY_E2E_PASSPHRASE:-pg-recovery-e2e}"
UP_TIMEOUT="${PG_RECOVERY_E2E_TIMEOUT:-120}"

# Start order; `down` stops in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# `up` and `down` remove the state dir: refuse paths where that would be a disaster: system
# directories, the home directory, and the clone itself or anything inside it (a path test:
# a sibling such as <clone>-cluster is fine).
REPO="$(readlink -m "$E2E_DIR/..")"
case "$(readlink -m "$STATE")" in
  /|/tmp|/root|/home|/work|/usr|/etc|/var|"$(readlink -m "$HOME")"|"$REPO"|"$REPO"/*)
    die "PG_RECOVERY_E2E_DIR=$STATE is not a throw-away directory" ;;
esac

bin_dir() { "$E2E_DIR/toolchain.sh" --print-path; }

# ------------------------------------------------------------------ processes
pidfile() { echo "$STATE/pids/$1.pid"; }

# alive NAME: the pid in NAME's pidfile is running and is still the process we started
# (its command line names our state dir), so a recycled pid is never signalled.
alive() {
  local pf pid
  pf="$(pidfile "$1")"
  [ -f "$pf" ] || return 1
  pid="$(cat "$pf")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$STATE"
}

# start NAME BINARY ARGS...: detached (own session, no stdin, output to a log), pid recorded.
start() {
  local name="$1"; shift
  local logf="$STATE/logs/$name.log"
  log "starting $name"
  setsid "$@" </dev/null >"$logf" 2>&1 &
  echo $! >"$(pidfile "$name")"
}

stop_one() {
  local name="$1" pf pid i
  pf="$(pidfile "$name")"
  [ -f "$pf" ] || return 0
  pid="$(cat "$pf")"
  if alive "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      alive "$name" || break
      sleep 0.2
    done
    if alive "$name"; then
      log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pf"
}

stop_all() {
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_one "${COMPONENTS[$i]}"
  done
}

# Every TCP socket's local port, listening or connected (an outbound connection's local port
# cannot be bound either).
tcp_ports_in_use() { ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' | sort -u; }

port_free() {
  ! tcp_ports_in_use | grep -qx "$1"
}

# The kernel's ephemeral range, "LOW HIGH" (PG_RECOVERY_E2E_EPHEMERAL_RANGE overrides, for tests).
ephemeral_range() {
  if [ -n "${PG_RECOVERY_E2E_EPHEMERAL_RANGE:-}" ]; then
    echo "$PG_RECOVERY_E2E_EPHEMERAL_RANGE"
  else
    cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo "32768 60999"
  fi
}

# pick_port DEFAULT TAKEN...: DEFAULT when it is outside the ephemeral range and free; else a
# free port just below the range (same last two digits, 100 lower each try), else above it; only on a
# machine whose whole port space is ephemeral, a free port inside it (up retries if it is lost).
pick_port() {
  local want="$1" lo hi p in_use
  shift
  read -r lo hi < <(ephemeral_range)
  in_use="$(tcp_ports_in_use; printf '%s\n' "$@")"
  usable() { [ "$1" -gt 1024 ] && [ "$1" -le 65535 ] && ! grep -qx "$1" <<<"$in_use"; }
  outside() { [ "$1" -lt "$lo" ] || [ "$1" -gt "$hi" ]; }
  if outside "$want" && usable "$want"; then echo "$want"; return; fi
  for ((p = lo - 100 + want % 100; p > 1024; p -= 100)); do
    [ "$p" -lt "$lo" ] && usable "$p" && { echo "$p"; return; }
  done
  for ((p = hi + 1 + want % 100; p <= 65535; p += 100)); do
    usable "$p" && { echo "$p"; return; }
  done
  for ((p = want; p <= 65535; p++)); do
    usable "$p" && { echo "$p"; return; }
  done
  die "no free TCP port for the cluster"
}

# Sets the four ports: as given by env (refused if in use), else picked (see pick_port).
choose_ports() {
  local var def given p taken=()
  for var in ETCD_PORT:29379 ETCD_PEER_PORT:29380 APISERVER_PORT:29443 KWOK_PORT:29470; do
    def="${var#*:}" var="${var%%:*}"
    given="$(eval "printf '%s' \"\${PG_RECOVERY_E2E_$var:-}\"")"
    if [ -n "$given" ]; then
      port_free "$given" || die "port 127.0.0.1:$given (PG_RECOVERY_E2E_$var) is in use; choose another, or unset it and up picks a free one"
      p="$given"
    else
      p="$(pick_port "$def" "${taken[@]}")"
    fi
    taken+=("$p")
    printf -v "$var" '%s' "$p"
  done
}

# Every port came from env: nothing to pick again on a retry.
ports_given() {
  [ -n "${PG_RECOVERY_E2E_ETCD_PORT:-}" ] && [ -n "${PG_RECOVERY_E2E_ETCD_PEER_PORT:-}" ] \
    && [ -n "${PG_RECOVERY_E2E_APISERVER_PORT:-}" ] && [ -n "${PG_RECOVERY_E2E_KWOK_PORT:-}" ]
}

# wait_for WHAT SECONDS COMMAND...: poll COMMAND until it succeeds; fail naming WHAT.
wait_for() {
  local what="$1" secs="$2" start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - start)) -ge "$secs" ]; then
      log "timed out after ${secs}s waiting for $what"
      return 1
    fi
    for c in "${COMPONENTS[@]}"; do
      if [ -f "$(pidfile "$c")" ] && ! alive "$c"; then
        log "$c exited; last lines of $STATE/logs/$c.log:"
        tail -n 20 "$STATE/logs/$c.log" >&2 || true
        return 1
      fi
    done
    sleep 0.5
  done
  log "$what: ok after $((SECONDS - start))s"
}

# ------------------------------------------------------------------ env
print_env() {
  local bin
  bin="$(bin_dir)"
  printf 'export KUBECONFIG=%q\n' "$STATE/kubeconfig"
  # $PATH is left for the caller's shell to expand, so eval prepends to the caller's PATH.
  # shellcheck disable=SC2016 # literal $PATH on purpose
  printf 'export PATH=%q:"$PATH"\n' "$bin"
  printf 'export PULUMI_HOME=%q\n' "$STATE/pulumi-home"
  printf 'export PULUMI_BACKEND_URL=%q\n' "file://$STATE/pulumi-state"
  printf 'export PULUMI_CONFIG_PASSPHRASE=%q\n' "$PASSPHRASE"
  printf 'export PULUMI_SKIP_UPDATE_CHECK=true\n'
  printf 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n'
  printf 'export PG_RECOVERY_E2E_DIR=%q\n' "$STATE"
}

# ------------------------------------------------------------------ up
write_pki() {
  local pki="$STATE/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=pg-recovery-e2e-ca" \
      -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
      -keyout apiserver.key -out apiserver.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile apiserver.ext -out apiserver.crt
    # Service-account token signing key (apiserver signs/verifies, controller-manager signs).
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  ) >"$STATE/logs/pki.log" 2>&1 || { cat "$STATE/logs/pki.log" >&2; return 1; }
  # One static bearer token, in system:masters (admin); every component uses it.
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/token"
  printf '%s,admin,admin,system:masters\n' "$(cat "$STATE/token")" >"$pki/tokens.csv"
  chmod 600 "$pki"/*.key "$pki/tokens.csv" "$STATE/token"
}

write_kubeconfig() {
  local ca
  ca="$(base64 -w0 <"$STATE/pki/ca.crt")"
  cat >"$STATE/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pg-recovery-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $ca
users:
- name: admin
  user:
    token: $(cat "$STATE/token")
contexts:
- name: pg-recovery-e2e
  context:
    cluster: pg-recovery-e2e
    user: admin
current-context: pg-recovery-e2e
EOF
  chmod 600 "$STATE/kubeconfig"
}

write_kwok_config() {
  local stages
  stages="$(dirname "$(readlink -f "$(bin_dir)/kwok")")/../stages"
  {
    cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
# kwok 0.8.0 does not default the options of a KwokConfiguration read from --config (seen:
# "node leases parallelism must be greater than 0"), so they are all spelled out.
options:
  cidr: 10.0.0.0/24
  nodeIP: 10.0.0.1
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 1
  enableDebuggingHandlers: false
  enableProfilingHandler: false
  enableContentionProfiling: false
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
EOF
    # Upstream default ("fast") stages from the kwok module, collected by toolchain.sh.
    for f in node-initialize node-heartbeat-with-lease pod-ready pod-complete pod-delete; do
      echo "---"
      cat "$stages/$f.yaml"
    done
    # Our own stages (e.g. the ingress-nginx load-balancer status), kept in the repo.
    for f in "$E2E_DIR"/kwok/*.yaml; do
      echo "---"
      cat "$f"
    done
  } >"$STATE/kwok.yaml"
}

write_node() {
  cat >"$STATE/node.yaml" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
spec: {}
status:
  allocatable:
    cpu: "64"
    memory: 256Gi
    pods: "250"
  capacity:
    cpu: "64"
    memory: 256Gi
    pods: "250"
  nodeInfo:
    architecture: amd64
    kubeletVersion: fake
    operatingSystem: linux
EOF
}

apiserver_ready() {
  curl -sf --cacert "$STATE/pki/ca.crt" -H "Authorization: Bearer $(cat "$STATE/token")" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -qx ok
}

node_ready() {
  [ "$(kubectl --kubeconfig "$STATE/kubeconfig" get node "$NODE_NAME" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

default_sa_exists() {
  kubectl --kubeconfig "$STATE/kubeconfig" -n default get serviceaccount default
}

cmd_up() {
  local c p bin k8s
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then
      die "$c is already running (state $STATE); run '$0 down' first, or set PG_RECOVERY_E2E_DIR"
    fi
  done
  choose_ports
  log "ports: etcd $ETCD_PORT/$ETCD_PEER_PORT, apiserver $APISERVER_PORT, kwok $KWOK_PORT"

  # Build (or verify, seconds when cached) the toolchain; its stdout is not ours to print.
  "$E2E_DIR/toolchain.sh" >/dev/null || die "toolchain build failed (see above)"
  bin="$(bin_dir)"
  export PATH="$bin:$PATH"
  k8s="$bin"

  rm -rf "$STATE"
  mkdir -p "$STATE/pids" "$STATE/logs" "$STATE/etcd" "$STATE/pulumi-home" "$STATE/pulumi-state"
  # From here on, a failure stops whatever was started (logs are kept for a look).
  trap 'rc=$?; if [ $rc -ne 0 ]; then log "up failed; stopping what was started (logs: $STATE/logs)"; stop_all; fi' EXIT

  write_pki
  write_kubeconfig
  write_kwok_config
  write_node

  start etcd "$k8s/etcd" \
    --name default --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn
  wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  start kube-apiserver "$k8s/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$STATE/pki/apiserver.crt" --tls-private-key-file "$STATE/pki/apiserver.key" \
    --client-ca-file "$STATE/pki/ca.crt" \
    --token-auth-file "$STATE/pki/tokens.csv" \
    --authorization-mode RBAC \
    --service-cluster-ip-range 10.96.0.0/16 \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key" \
    --allow-privileged=true --profiling=false \
    --cert-dir "$STATE/pki"
  wait_for kube-apiserver "$UP_TIMEOUT" apiserver_ready

  # Garbage collector (foreground deletes of the Pulumi provider), deployment + replicaset
  # (Available), namespace, serviceaccount(-token), root-ca publisher, node lifecycle ... are
  # all in the default controller set.
  start kube-controller-manager "$k8s/kube-controller-manager" \
    --kubeconfig "$STATE/kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
    --service-account-private-key-file "$STATE/pki/sa.key" \
    --root-ca-file "$STATE/pki/ca.crt" \
    --use-service-account-credentials=false \
    --controllers '*' --profiling=false
  start kube-scheduler "$k8s/kube-scheduler" \
    --kubeconfig "$STATE/kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 --profiling=false
  start kwok "$k8s/kwok" \
    --kubeconfig "$STATE/kubeconfig" --config "$STATE/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --server-address "127.0.0.1:$KWOK_PORT"

  kubectl --kubeconfig "$STATE/kubeconfig" apply -f "$STATE/node.yaml" >&2
  wait_for "node $NODE_NAME Ready" "$UP_TIMEOUT" node_ready
  wait_for "default service account" "$UP_TIMEOUT" default_sa_exists

  # The provider plugin is on PATH (that is what the engine uses, whatever version the npm
  # SDK asks for); also put it in this PULUMI_HOME's plugin cache under its own version.
  PULUMI_HOME="$STATE/pulumi-home" PULUMI_SKIP_UPDATE_CHECK=true \
    pulumi plugin install resource kubernetes "v$K8S_PROVIDER_VERSION" \
    --file "$bin/pulumi-resource-kubernetes" >"$STATE/logs/plugin-install.log" 2>&1 \
    || { cat "$STATE/logs/plugin-install.log" >&2; false; }

  for c in "${COMPONENTS[@]}"; do
    alive "$c" || die "$c is not running (log: $STATE/logs/$c.log)"
  done
  trap - EXIT
  log "cluster up: https://127.0.0.1:$APISERVER_PORT ($(kube_version)), node $NODE_NAME Ready; state $STATE"
  print_env
}

kube_version() {
  kubectl --kubeconfig "$STATE/kubeconfig" version -o json 2>/dev/null \
    | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | tail -n 1
}

# ------------------------------------------------------------------ down / status / seed
cmd_down() {
  if [ ! -d "$STATE" ]; then
    log "nothing to stop ($STATE does not exist)"
    return 0
  fi
  stop_all
  # Pidfiles are gone now; refuse to remove state if something we started still runs.
  for c in "${COMPONENTS[@]}"; do
    alive "$c" && die "$c still running; state kept in $STATE"
  done
  rm -rf "$STATE"
  log "cluster down; removed $STATE"
}

cmd_status() {
  local c rc=0
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then
      log "$c: running (pid $(cat "$(pidfile "$c")"))"
    else
      log "$c: not running"
      rc=3
    fi
  done
  if [ $rc -eq 0 ]; then
    PATH="$(bin_dir):$PATH" kubectl --kubeconfig "$STATE/kubeconfig" get nodes >&2 || rc=3
  fi
  return $rc
}

cmd_seed() {
  local file="${1:-$E2E_DIR/seed/app.yaml}" d
  [ $# -gt 0 ] && shift
  [ -f "$file" ] || die "no such manifest: $file"
  [ -f "$STATE/kubeconfig" ] || die "no cluster in $STATE; run: eval \"\$($0 up)\""
  PATH="$(bin_dir):$PATH"
  export PATH KUBECONFIG="$STATE/kubeconfig"
  # As Terraform's kubernetes provider would own them: server-side apply, its field manager.
  # Extra arguments go to kubectl apply, e.g. --force-conflicts (terraform's force_conflicts)
  # to take fields back from another manager such as a Pulumi patch.
  kubectl apply --server-side --field-manager=Terraform "$@" -f "$file" >&2
  for d in $(kubectl get -f "$file" \
      -o jsonpath='{range .items[?(@.kind=="Deployment")]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}'); do
    kubectl -n "${d%%/*}" rollout status "deployment/${d#*/}" --timeout="${UP_TIMEOUT}s" >&2
  done
  log "seeded $file"
}

# up, started again (up to 3 times) when a port was taken between choosing it and binding it.
cmd_up_retrying() {
  local attempt rc
  for attempt in 1 2 3; do
    set +e
    (
      set -e
      cmd_up
    )
    rc=$?
    set -e
    [ "$rc" -eq 0 ] && return 0
    if [ "$attempt" -lt 3 ] && ! ports_given \
      && grep -qs "address already in use" "$STATE"/logs/*.log; then
      log "a port was taken while the cluster started (address already in use); starting again on other ports"
      continue
    fi
    return "$rc"
  done
}

case "${1:-}" in
  up) cmd_up_retrying ;;
  ports)
    choose_ports
    printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\nKWOK_PORT=%s\n' \
      "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KWOK_PORT" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) [ -f "$STATE/kubeconfig" ] || die "no cluster in $STATE"; print_env ;;
  seed) shift; cmd_seed "$@" ;;
  *) sed -n '2,26p' "$0" >&2; exit 2 ;;
esac
