/* Baseline: MPI_Allreduce of float32 buffers, timed like the Accelerate worker's bench scenario
   (same iteration counts; prints "BENCHROW bytes mean_us median_us"). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (int a = 1; a < argc; a++) {
        long bytes = atol(argv[a]);
        long count = bytes / 4 > 0 ? bytes / 4 : 1;
        float *buffer = malloc(count * sizeof(float));
        for (long i = 0; i < count; i++) buffer[i] = 1.0f;
        long per = 2000000000L / (bytes > 4096 ? bytes : 4096) / 40;
        int iterations = per < 5 ? 5 : per > 2000 ? 2000 : (int)per;
        double *times = malloc(iterations * sizeof(double));
        for (int i = 0; i < (iterations < 10 ? iterations : 10); i++)
            MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        for (int i = 0; i < iterations; i++) {
            double begin = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            times[i] = (MPI_Wtime() - begin) * 1e6;
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double mean = (MPI_Wtime() - start) / iterations * 1e6;
        qsort(times, iterations, sizeof(double), compare);
        if (rank == 0) printf("BENCHROW %ld %.2f %.2f\n", bytes, mean, times[iterations / 2]);
        free(times);
        free(buffer);
    }
    MPI_Finalize();
    return 0;
}
