#!/usr/bin/env bash
# The CockroachCluster lifecycle scenarios of test/integration/cockroach-lifecycle.test.ts, against a REAL
# CockroachDB in kind: create 3 nodes -> init once -> Ready; scale 3 -> 5 -> 3 (decommission before replicas go
# down); upgrade one pod at a time from the highest ordinal, then finalize; an operator restart in the middle of
# each; invalid changes refused; a backup to MinIO with verification, data lost, restored in place. See
# docs/cockroachdb-on-kind.md. Needs docker, kind, kubectl and Node 24.
#
# Not run in CI (no Docker there); written to be read and run by hand:
#   hack/kind-e2e.sh            # everything, then deletes the kind cluster
#   KEEP=1 hack/kind-e2e.sh     # keep the kind cluster to look around afterwards
#   SCENARIOS="create scale" hack/kind-e2e.sh
set -euo pipefail

cd "$(dirname "$0")/.."
KIND_CLUSTER=${KIND_CLUSTER:-zitadel-operator-e2e}
IMAGE=${IMAGE:-zitadel-operator:e2e}
NS=${NS:-crdb-e2e}
FROM=${FROM:-v24.3.5}   # a version the upgrade starts from
TO=${TO:-v25.2.0}       # one major forward (24.3 -> 25.2 skips the Innovation release 25.1)
SCENARIOS=${SCENARIOS:-"create scale upgrade invalid backup delete"}
TIMEOUT=${TIMEOUT:-900} # seconds per wait: real nodes start, decommission and restart slowly

log() { printf '\n== %s ==\n' "$*"; }
crdb() { kubectl -n "$NS" get cockroachcluster db -o "jsonpath=$1"; }
sts() { kubectl -n "$NS" get statefulset db -o "jsonpath=$1"; }

# Waits until `kubectl get cockroachcluster db` has condition $1 with status $2 (and reason $3 when given).
wait_condition() {
  local type=$1 status=$2 reason=${3:-} deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    local s r
    s=$(crdb "{.status.conditions[?(@.type==\"$type\")].status}" 2>/dev/null || true)
    r=$(crdb "{.status.conditions[?(@.type==\"$type\")].reason}" 2>/dev/null || true)
    if [[ $s == "$status" && ( -z $reason || $r == "$reason" ) ]]; then echo "$type=$s ($r)"; return 0; fi
    sleep 5
  done
  echo "timed out waiting for $type=$status $reason; conditions:" >&2
  crdb '{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2
  return 1
}

# Restarts the operator (a new pod, a new leader) while a scenario is in the middle of something.
restart_operator() {
  log "restarting the operator mid-flight"
  kubectl -n zitadel-operator rollout restart deployment/zitadel-operator
  kubectl -n zitadel-operator rollout status deployment/zitadel-operator --timeout=300s
}

apply_cluster() { # nodes version [extra YAML lines under spec]
  kubectl -n "$NS" apply -f - <<YAML
apiVersion: zitadel-operator.dev/v1alpha1
kind: CockroachCluster
metadata:
  name: db
spec:
  version: $2
  nodes: $1
  storage:
    size: 2Gi
  resources:
    requests: { cpu: 250m, memory: 1Gi }
    limits: { memory: 1Gi }
${3:-}
YAML
}

# The SQL the operator's Jobs run, by hand, through the root client certificate, from a throwaway pod.
sql() {
  kubectl -n "$NS" run "sql-$RANDOM" --rm -i --restart=Never --image="cockroachdb/cockroach:${VERSION_NOW:-$FROM}" \
    --overrides='{"spec":{"containers":[{"name":"sql","image":"cockroachdb/cockroach:'"${VERSION_NOW:-$FROM}"'","command":["cockroach","sql","--certs-dir=/certs","--host=db-public:26257","--format=csv","-e","'"$1"'"],"volumeMounts":[{"name":"certs","mountPath":"/certs"}]}],"volumes":[{"name":"certs","secret":{"secretName":"db-client-root","defaultMode":256,"items":[{"key":"ca.crt","path":"ca.crt"},{"key":"client.root.crt","path":"client.root.crt"},{"key":"client.root.key","path":"client.root.key"}]}}]}}'
}

setup() {
  log "kind cluster $KIND_CLUSTER (1 control plane, 3 workers)"
  if ! kind get clusters | grep -qx "$KIND_CLUSTER"; then
    kind create cluster --name "$KIND_CLUSTER" --config - <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes: [{ role: control-plane }, { role: worker }, { role: worker }, { role: worker }]
YAML
  fi
  log "operator image $IMAGE"
  docker build -t "$IMAGE" .
  kind load docker-image "$IMAGE" --name "$KIND_CLUSTER"
  for v in "$FROM" "$TO"; do docker pull "cockroachdb/cockroach:$v" && kind load docker-image "cockroachdb/cockroach:$v" --name "$KIND_CLUSTER"; done
  log "install CRDs, RBAC and the operator"
  node bin/zitadel-operator.js install --image "$IMAGE" --replicas 1 --no-leader-elect
  kubectl -n zitadel-operator rollout status deployment/zitadel-operator --timeout=300s
  kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
}

scenario_create() {
  log "create 3 nodes: init runs once, then Ready"
  apply_cluster 3 "$FROM"
  sleep 10
  restart_operator # while the nodes start and init runs
  wait_condition Initialized True
  wait_condition Ready True
  local inits
  inits=$(kubectl -n "$NS" get jobs -l app.kubernetes.io/component=init -o name | wc -l)
  [[ $inits -eq 1 ]] || { echo "expected exactly one init Job, found $inits" >&2; return 1; }
  sql "SELECT node_id, membership FROM crdb_internal.gossip_liveness ORDER BY node_id"
}

scenario_scale() {
  log "scale 3 -> 5"
  apply_cluster 5 "$FROM"
  wait_condition Ready True
  [[ $(sts '{.spec.replicas}') -eq 5 ]]
  log "scale 5 -> 3: decommission db-4 and db-3 first, replicas stay 5 until both report decommissioned"
  apply_cluster 3 "$FROM"
  wait_condition ScalingDown True
  kubectl -n "$NS" get jobs -l app.kubernetes.io/component=decommission -o wide
  [[ $(sts '{.spec.replicas}') -eq 5 ]] || { echo "replicas lowered before decommissioning finished" >&2; return 1; }
  restart_operator # while decommissioning
  wait_condition ScalingDown False
  wait_condition Ready True
  [[ $(sts '{.spec.replicas}') -eq 3 ]]
  sql "SELECT node_id, address, membership FROM crdb_internal.gossip_liveness ORDER BY node_id"
  kubectl -n "$NS" get pvc # datadir-db-3 and datadir-db-4 stay (storage.retainPolicy: Retain)
}

scenario_upgrade() {
  log "upgrade $FROM -> $TO: preserve_downgrade_option, db-2, db-1, db-0, then finalize"
  apply_cluster 3 "$TO"
  wait_condition Upgrading True
  sql "SHOW CLUSTER SETTING cluster.preserve_downgrade_option"
  # Watch the partition go 3 -> 2 -> 1 -> 0 and the pods restart one at a time, highest ordinal first.
  kubectl -n "$NS" get pods -l app.kubernetes.io/component=database -L app.kubernetes.io/version --watch &
  local watcher=$!
  until [[ $(sts '{.spec.updateStrategy.rollingUpdate.partition}') -le 1 ]]; do sleep 5; done
  restart_operator # with one or two pods on the new version
  wait_condition Upgrading False
  kill "$watcher" || true
  [[ $(crdb '{.status.currentVersion}') == "$TO" ]]
  VERSION_NOW=$TO sql "SHOW CLUSTER SETTING version"
  kubectl -n "$NS" get events --field-selector involvedObject.name=db --sort-by=.eventTime
}

scenario_invalid() {
  log "invalid changes are refused"
  if apply_cluster 0 "$TO" 2>/dev/null; then echo "0 nodes was accepted" >&2; return 1; fi
  if apply_cluster 3 "$TO" "  storage: { size: 2Gi, storageClassName: other }" 2>/dev/null; then
    echo "a storage class change was accepted" >&2; return 1
  fi
  apply_cluster 3 v26.2.0 # two majors ahead
  wait_condition Ready False InvalidSpec
  apply_cluster 3 "$FROM" # back, after finalization: a downgrade
  wait_condition Ready False InvalidSpec
  apply_cluster 3 "$TO"
  wait_condition Ready True
}

# Waits until the Backup or Restore $2 (kind $1) reaches phase $3.
wait_phase() {
  local deadline=$((SECONDS + TIMEOUT))
  until [[ $(kubectl -n "$NS" get "$1" "$2" -o 'jsonpath={.status.phase}') == "$3" ]]; do
    if ((SECONDS > deadline)); then kubectl -n "$NS" get "$1" "$2" -o yaml >&2; return 1; fi
    sleep 5
  done
}

scenario_backup() {
  log "backup to MinIO with verification, lose data, restore in place, data back"
  kubectl -n "$NS" apply -f - <<YAML
apiVersion: v1
kind: Secret
metadata: { name: minio-credentials }
stringData: { AWS_ACCESS_KEY_ID: e2e-access, AWS_SECRET_ACCESS_KEY: e2e-secret-key-0123456789 }
---
apiVersion: v1
kind: Pod
metadata: { name: minio, labels: { app: minio } }
spec:
  containers:
    - name: minio
      image: minio/minio:latest
      args: [server, /data]
      env:
        - { name: MINIO_ROOT_USER, value: e2e-access }
        - { name: MINIO_ROOT_PASSWORD, value: e2e-secret-key-0123456789 }
      volumeMounts: [{ name: data, mountPath: /data/backups }]
  volumes: [{ name: data, emptyDir: {} }]
---
apiVersion: v1
kind: Service
metadata: { name: minio }
spec: { selector: { app: minio }, ports: [{ port: 9000 }] }
YAML
  kubectl -n "$NS" wait pod/minio --for=condition=Ready --timeout=300s
  # CockroachDB's own nodes write to MinIO: let them (and the backup Jobs) through the cluster's NetworkPolicy.
  kubectl -n "$NS" apply -f - <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: minio }
spec:
  podSelector: { matchLabels: { app: minio } }
  ingress: [{ ports: [{ port: 9000 }] }]
YAML
  sql "CREATE DATABASE IF NOT EXISTS e2e; CREATE TABLE IF NOT EXISTS e2e.t (id INT PRIMARY KEY); UPSERT INTO e2e.t SELECT generate_series(1, 1000)"
  kubectl -n "$NS" apply -f - <<YAML
apiVersion: zitadel-operator.dev/v1alpha1
kind: Backup
metadata: { name: e2e-backup }
spec:
  source: { cockroachClusterRef: { name: db }, database: e2e }
  destination:
    s3:
      bucket: backups
      endpoint: http://minio.$NS.svc:9000
      forcePathStyle: true
      region: us-east-1
      credentialsSecretRef: { name: minio-credentials }
  verify: true
YAML
  wait_phase backup e2e-backup Completed
  local verified
  for _ in $(seq 60); do
    verified=$(kubectl -n "$NS" get backup e2e-backup -o 'jsonpath={.status.verification.result}')
    [[ -n $verified ]] && break
    sleep 5
  done
  [[ $verified == Passed ]] || { kubectl -n "$NS" get backup e2e-backup -o yaml >&2; return 1; }
  sql "DELETE FROM e2e.t WHERE id > 10"
  kubectl -n "$NS" apply -f - <<YAML
apiVersion: zitadel-operator.dev/v1alpha1
kind: Restore
metadata: { name: e2e-restore }
spec:
  backupRef: { name: e2e-backup }
  overwrite: true
YAML
  wait_phase restore e2e-restore Completed
  sql "SELECT count(*) FROM e2e.t" | grep -qx 1000 || { echo "the restore did not bring the 1000 rows back" >&2; return 1; }
}

scenario_delete() {
  log "delete: the volumes and the CA stay, Events say so"
  kubectl -n "$NS" delete cockroachcluster db --wait=true --timeout=300s
  kubectl -n "$NS" get events --field-selector involvedObject.name=db | grep -E 'VolumesKept|CAKept'
  kubectl -n "$NS" get secret db-ca
  kubectl -n "$NS" get pvc
}

setup
started=$SECONDS
for s in $SCENARIOS; do
  t=$SECONDS
  "scenario_$s"
  echo "scenario $s took $((SECONDS - t)) s"
done
echo "all scenarios passed in $((SECONDS - started)) s"
[[ -n ${KEEP:-} ]] || kind delete cluster --name "$KIND_CLUSTER"
