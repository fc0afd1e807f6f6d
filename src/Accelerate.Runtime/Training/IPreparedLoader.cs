namespace Accelerate;

/// <summary>What the accelerator needs to know about a prepared loader, whatever its batch type.</summary>
internal interface IPreparedLoader
{
    /// <summary>Epochs started and finished so far (the epoch being read, while one is).</summary>
    long Epoch { get; }

    /// <summary>Batches yielded so far in the current epoch.</summary>
    long Position { get; }

    /// <summary>Batches this rank reads per epoch.</summary>
    long StepsPerEpoch { get; }

    /// <summary>Real samples in the last step gathered over all ranks.</summary>
    long Remainder { get; }

    /// <summary>True while the current batch is the epoch's last.</summary>
    bool AtLastBatch { get; }

    /// <summary>Samples in the dataset.</summary>
    long DatasetSize { get; }

    /// <summary>Samples one step takes over all ranks (the global batch).</summary>
    long BatchSamples { get; }

    /// <summary>Samples of the epoch's global order consumed so far, padding not counted; the dataset's size once the epoch is over.</summary>
    long ConsumedSamples { get; }

    /// <summary>Makes the next enumeration read epoch <paramref name="epoch"/> from sample <paramref name="consumedSamples"/> of its global order.</summary>
    void Resume(long epoch, long consumedSamples);
}
