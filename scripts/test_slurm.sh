#!/usr/bin/env bash
# make test-slurm: install SLURM if missing (Debian packages, root), start the single-node test
# cluster, run the SLURM tests (tests/test_slurm.py), stop the cluster -- also when a test fails
# or this script is interrupted. A cluster that was already running is left running.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=scripts/slurm_cluster.sh
export SCCL_SLURM_DIR=${SCCL_SLURM_DIR:-/tmp/sccl-slurm}
t0=$SECONDS

$CLUSTER install
if $CLUSTER status >/dev/null 2>&1; then
    echo "test-slurm: the cluster in $SCCL_SLURM_DIR is already running: using it, leaving it running"
else
    trap '$CLUSTER stop' EXIT
    trap 'exit 130' INT TERM   # (the EXIT trap runs on these too)
    $CLUSTER start
fi
export SLURM_CONF="$SCCL_SLURM_DIR/etc/slurm.conf"
export SCCL_SLURM_TESTS=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
echo "test-slurm: cluster ready after $((SECONDS - t0)) s"
status=0
.venv/bin/python -m pytest -q -m slurm tests/test_slurm.py "$@" || status=$?
echo "test-slurm: $((SECONDS - t0)) s in all (pytest exit status $status)"
exit $status
