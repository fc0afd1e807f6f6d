namespace Accelerate;

/// <summary>
/// Which samples one rank reads in one epoch, as HF accelerate's <c>BatchSamplerShard</c>: the epoch's
/// order (a seeded shuffle identical on every rank, different each epoch, or 0..N-1) is cut into batches
/// of <c>batchSize</c>; rank r takes batches r, r+n, r+2n, …. With <c>evenBatches</c> the order is
/// first extended with samples from its start until every rank has the same number of full batches.
/// An epoch resumed on another number of ranks starts at <c>startSample</c> of that order: the
/// samples the saving job consumed are skipped, and the rest is cut for this job's ranks.
/// </summary>
public sealed class RankShardPlan
{
    private readonly long[] _order;

    /// <summary>Plans one epoch.</summary>
    /// <param name="datasetSize">Samples in the dataset.</param>
    /// <param name="batchSize">Samples per batch on one rank.</param>
    /// <param name="rank">This rank.</param>
    /// <param name="worldSize">Number of ranks.</param>
    /// <param name="shuffle">Shuffle the epoch's order.</param>
    /// <param name="seed">Shuffle seed; the epoch is added to it.</param>
    /// <param name="epoch">Epoch index, from 0.</param>
    /// <param name="evenBatches">Pad with samples from the start so all ranks take equal, full batches.</param>
    /// <param name="dropLast">Drop the last incomplete batch (ignored when padding made every batch full).</param>
    /// <param name="startSample">Samples of the epoch's order already consumed (by a checkpointed job): the plan covers the rest.</param>
    public RankShardPlan(long datasetSize, int batchSize, int rank, int worldSize, bool shuffle, long seed, long epoch, bool evenBatches, bool dropLast, long startSample = 0)
    {
        if (batchSize <= 0) throw new AccelerateException(RuntimeErrorCode.BadBatchSize, $"The data loader's batch size is {batchSize}; it must be at least 1.");
        if (rank < 0 || rank >= worldSize) throw new AccelerateException(RuntimeErrorCode.BadBatchSize, $"Rank {rank} is outside a world of {worldSize} processes.");
        DatasetSize = datasetSize;
        BatchSize = batchSize;
        Rank = rank;
        WorldSize = worldSize;
        StartSample = Math.Clamp(startSample, 0, datasetSize);
        _order = EpochOrder(datasetSize, shuffle, seed + epoch);

        var remaining = datasetSize - StartSample;
        long globalSamples;
        if (remaining == 0) globalSamples = 0;
        else if (evenBatches)
        {
            var step = (long)batchSize * worldSize;
            var steps = dropLast ? remaining / step : (remaining + step - 1) / step;
            globalSamples = steps * step;
        }
        else globalSamples = dropLast ? remaining / batchSize * batchSize : remaining;
        GlobalSamples = globalSamples;

        var globalBatches = (globalSamples + batchSize - 1) / batchSize;
        var localBatches = globalBatches > rank ? (globalBatches - rank + worldSize - 1) / worldSize : 0;
        long localSamples = 0;
        for (long j = 0; j < localBatches; j++)
        {
            var start = (j * worldSize + rank) * batchSize;
            localSamples += Math.Min(batchSize, globalSamples - start);
        }
        LocalBatches = localBatches;
        LocalSamples = localSamples;
    }

    /// <summary>Samples in the dataset.</summary>
    public long DatasetSize { get; }
    /// <summary>Samples per batch on one rank.</summary>
    public int BatchSize { get; }
    /// <summary>This rank.</summary>
    public int Rank { get; }
    /// <summary>Number of ranks.</summary>
    public int WorldSize { get; }
    /// <summary>Samples of the epoch's order consumed before this plan starts (0 unless resumed from a checkpoint).</summary>
    public long StartSample { get; }
    /// <summary>Samples all ranks read together this epoch (after <see cref="StartSample"/>), padding included.</summary>
    public long GlobalSamples { get; }
    /// <summary>Batches this rank reads this epoch.</summary>
    public long LocalBatches { get; }
    /// <summary>Samples this rank reads this epoch.</summary>
    public long LocalSamples { get; }

    /// <summary>
    /// Real (not padded) samples in the last step's batches gathered over all ranks, in rank order:
    /// what <see cref="Accelerator.GatherForMetrics(TorchSharp.torch.Tensor)"/> keeps of the last step.
    /// </summary>
    public long LastStepRemainder
    {
        get
        {
            if (LocalBatches == 0) return 0;
            var step = (long)BatchSize * WorldSize;
            var beforeLast = (LocalBatches - 1) * step;
            return Math.Min(DatasetSize - StartSample, GlobalSamples) - beforeLast;
        }
    }

    /// <summary>The dataset index of this rank's <paramref name="localIndex"/>-th sample this epoch.</summary>
    public long DatasetIndex(long localIndex)
    {
        var batch = localIndex / BatchSize;
        var within = localIndex % BatchSize;
        // Padding wraps around to the start of the epoch's order.
        var position = StartSample + (batch * WorldSize + Rank) * BatchSize + within;
        return _order[position % DatasetSize];
    }

    /// <summary>
    /// Samples of the epoch's global order consumed once every rank has read <paramref name="batches"/>
    /// batches (padding not counted): what a checkpoint records, whatever the number of ranks.
    /// </summary>
    public long ConsumedAfter(long batches) =>
        Math.Min(DatasetSize, StartSample + Math.Min(GlobalSamples, batches * WorldSize * BatchSize));

    /// <summary>This rank's samples this epoch, in order.</summary>
    public IEnumerable<long> LocalIndices()
    {
        for (long i = 0; i < LocalSamples; i++) yield return DatasetIndex(i);
    }

    private static long[] EpochOrder(long size, bool shuffle, long seed)
    {
        var order = new long[size];
        for (long i = 0; i < size; i++) order[i] = i;
        if (!shuffle) return order;
        // System.Random with a seed is the same sequence in every .NET process: every rank shuffles alike.
        var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
        for (var i = size - 1; i > 0; i--)
        {
            var j = random.NextInt64(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
