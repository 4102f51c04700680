#!/usr/bin/env bash
# Train on N processes of this machine (NCCL on GPUs, gloo on CPU):
#   tools/dist_train.sh CONFIG N [train.py options]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on each.
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

# If a rank dies, torchrun stops the others (they also fail fast: gloo/NCCL
# see the closed connection, or env_cfg.dist_cfg.timeout expires) and exits
# non-zero; its "Root Cause" table names the first rank that failed.
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}" || {
    status=$?
    echo "dist_train.sh: training failed (exit code $status); the 'Root Cause'" \
         "above names the first rank that failed, and the lines prefixed" \
         "[rankN] are that rank's output." >&2
    exit $status
}
