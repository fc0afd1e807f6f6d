"""Baseline: PyTorch's gloo all-reduce of float32 buffers, timed like the Accelerate worker's bench
scenario (same iteration counts; rank 0 prints "BENCHROW bytes mean_us median_us").

Started once per rank with the torchrun environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
LOCAL_RANK) set by the caller; sizes in bytes are the arguments.
"""
import sys
import time

import torch
import torch.distributed as dist


def main():
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    for bytes_ in map(int, sys.argv[1:]):
        tensor = torch.ones(max(1, bytes_ // 4), dtype=torch.float32)
        iterations = min(2000, max(5, 2_000_000_000 // max(bytes_, 4096) // 40))
        for _ in range(min(10, iterations)):
            dist.all_reduce(tensor)
        dist.barrier()
        times = []
        start = time.perf_counter()
        for _ in range(iterations):
            begin = time.perf_counter()
            dist.all_reduce(tensor)
            times.append((time.perf_counter() - begin) * 1e6)
        dist.barrier()
        mean = (time.perf_counter() - start) / iterations * 1e6
        times.sort()
        if rank == 0:
            print(f"BENCHROW {bytes_} {mean:.2f} {times[iterations // 2]:.2f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
