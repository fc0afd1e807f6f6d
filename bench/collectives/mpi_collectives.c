/* Baseline for the shared-memory collective rows: MPI_Allgather, MPI_Gather (root 1), MPI_Reduce_scatter_block,
   MPI_Bcast (root 1) and MPI_Allreduce of float32 buffers, timed like the Accelerate worker's bench-ops scenario
   (same sizes, iteration counts and warm-up). Usage: mpi_collectives OP[,OP...] BYTES...
   Sizes: all-gather and gather, bytes each rank contributes; reduce-scatter, bytes of each rank's input
   (each keeps 1/n); broadcast and all-reduce, bytes of the buffer.
   Prints "BENCHROW op bytes mean_us median_us" on rank 0. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int iterations_for(long bytes) {
    if (bytes <= 4096) return 20000;
    long per = 2000000000L / bytes / 40;
    return per < 5 ? 5 : per > 2000 ? 2000 : (int)per;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int root = 1 % size;
    char *ops = strdup(argv[1]);
    for (char *op = strtok(ops, ","); op; op = strtok(NULL, ",")) {
        for (int a = 2; a < argc; a++) {
            long bytes = atol(argv[a]);
            long count = bytes / 4 > 0 ? bytes / 4 : 1;
            long block = count / size > 0 ? count / size : 1; /* reduce-scatter: elements each rank keeps */
            float *send = malloc(count * sizeof(float));
            float *receive = malloc(count * size * sizeof(float));
            for (long i = 0; i < count; i++) send[i] = 1.0f;
            memset(receive, 0, count * size * sizeof(float));
            int iterations = iterations_for(bytes);
            double *times = malloc(iterations * sizeof(double));
            for (int i = -(iterations < 10 ? iterations : 10); i < iterations; i++) {
                if (i == 0) MPI_Barrier(MPI_COMM_WORLD);
                double begin = MPI_Wtime();
                if (!strcmp(op, "allgather"))
                    MPI_Allgather(send, (int)count, MPI_FLOAT, receive, (int)count, MPI_FLOAT, MPI_COMM_WORLD);
                else if (!strcmp(op, "gather"))
                    MPI_Gather(send, (int)count, MPI_FLOAT, receive, (int)count, MPI_FLOAT, root, MPI_COMM_WORLD);
                else if (!strcmp(op, "reducescatter"))
                    MPI_Reduce_scatter_block(send, receive, (int)block, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                else if (!strcmp(op, "broadcast"))
                    MPI_Bcast(send, (int)count, MPI_FLOAT, root, MPI_COMM_WORLD);
                else if (!strcmp(op, "allreduce"))
                    MPI_Allreduce(MPI_IN_PLACE, send, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                else { fprintf(stderr, "unknown collective %s\n", op); MPI_Abort(MPI_COMM_WORLD, 2); }
                if (i >= 0) times[i] = (MPI_Wtime() - begin) * 1e6;
            }
            MPI_Barrier(MPI_COMM_WORLD);
            double total = 0;
            for (int i = 0; i < iterations; i++) total += times[i];
            qsort(times, iterations, sizeof(double), compare);
            if (rank == 0) printf("BENCHROW %s %ld %.2f %.2f\n", op, bytes, total / iterations, times[iterations / 2]);
            fflush(stdout);
            free(times);
            free(send);
            free(receive);
        }
    }
    free(ops);
    MPI_Finalize();
    return 0;
}
