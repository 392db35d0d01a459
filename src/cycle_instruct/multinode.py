"""train.num_machines: one training spread over several machines under accelerate's multi-node launch.

Every machine runs the same stage command (Slurm: srun starts it on each node; plain machines: ssh);
the environment says where each stands, as torchrun's own variables do:
MASTER_ADDR, the main machine (rank 0) as the others reach it; MASTER_PORT, a free port there, the same
on every machine (default 29500); and the machine's rank, NODE_RANK, or Slurm's SLURM_NODEID under srun.
Each machine starts train.num_processes processes; process 0 of machine 0 writes the outputs.
"""

import os
import socket

from .errors import UserError

DEFAULT_PORT = 29500
SEE = "see docs/cluster.md"


def free_port() -> int:
    with socket.socket() as s:  # two trainings on one machine (dvc exp run --queue) must not share a port
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_rank(num_machines: int) -> int:
    """This machine's rank among train.num_machines: NODE_RANK, else SLURM_NODEID (srun sets it)."""
    name = "NODE_RANK" if os.environ.get("NODE_RANK", "").strip() else "SLURM_NODEID"
    value = os.environ.get(name, "").strip()
    if not value:
        raise UserError(
            f"train.num_machines is {num_machines}, but this machine's rank is not set: set NODE_RANK (0 on the main "
            f"machine, 1 to {num_machines - 1} on the others), or run the stage under srun; {SEE}"
        )
    if not value.isdecimal() or int(value) >= num_machines:
        raise UserError(f"{name}={value}: a machine's rank must be 0 to {num_machines - 1} (train.num_machines); {SEE}")
    return int(value)


def launch_options(num_machines: int) -> list[str]:
    """accelerate launch's options that place this machine among train.num_machines (one machine: a free local port)."""
    if num_machines == 1:
        return ["--num_machines", "1", "--main_process_port", str(free_port())]
    address = os.environ.get("MASTER_ADDR", "").strip()
    if not address:
        raise UserError(
            f"train.num_machines is {num_machines}, but MASTER_ADDR is not set: set it on every machine to the main "
            f"machine's address (and MASTER_PORT, default {DEFAULT_PORT}, to a free port there); {SEE}"
        )
    port = os.environ.get("MASTER_PORT", "").strip() or str(DEFAULT_PORT)
    if not port.isdecimal() or not 0 < int(port) < 65536:
        raise UserError(f"MASTER_PORT={port}: the main machine's port for train.num_machines must be 1 to 65535; {SEE}")
    rank = machine_rank(num_machines)
    return [
        "--num_machines",
        str(num_machines),
        "--machine_rank",
        str(rank),
        "--main_process_ip",
        address,
        "--main_process_port",
        port,
    ]
