namespace Accelerate;

/// <summary>
/// How gradients and buffers are kept in sync across ranks: the settings of PyTorch's
/// <c>DistributedDataParallel</c> that HF accelerate passes through <c>DistributedDataParallelKwargs</c>.
/// Nothing wraps the model; these settings steer what <see cref="Accelerator.Backward"/> does.
/// </summary>
public sealed record DistributedDataParallelOptions
{
    /// <summary>
    /// Copy rank 0's buffers (e.g. BatchNorm's running mean and variance) to every rank on every
    /// synchronizing step (default true, as DDP's <c>broadcast_buffers</c>). DDP copies them before
    /// the forward of a synchronizing step; here they are copied at the end of each synchronizing
    /// backward, so every forward after it starts from rank 0's buffers all the same, and the ranks
    /// end training with equal buffers. False lets each rank keep the statistics of its own batches.
    /// </summary>
    public bool BroadcastBuffers { get; init; } = true;

    /// <summary>
    /// Leave the gradient of a parameter that no rank used in a step null (default false, as DDP's
    /// <c>find_unused_parameters</c>): every bucket also carries one "used here" flag per parameter,
    /// and a parameter no rank used keeps no gradient, so the optimizer leaves it (and its state)
    /// alone, as under DDP. Without it nothing hangs either: a parameter some rank did not use counts
    /// as a zero gradient on that rank, and one no rank used gets a zero gradient, which an optimizer
    /// with momentum or weight decay still applies.
    /// </summary>
    public bool FindUnusedParameters { get; init; }

    /// <summary>
    /// DDP's <c>static_graph</c>: a promise that every step uses the same parameters in the same order.
    /// Accepted and without effect: the bucket plan is fixed at the first synchronizing step and never
    /// rebuilt, and buckets are reduced in a fixed order whatever the graph, so there is nothing to skip.
    /// </summary>
    public bool StaticGraph { get; init; }

    /// <summary>
    /// Size in MiB of the buckets gradients are packed into for one all-reduce each when they are
    /// reduced after backward (default 25, as DDP's <c>bucket_cap_mb</c>; the first bucket holds at
    /// most 1 MiB). Reduced while backward runs, each module's gradients form one bucket. Must be positive.
    /// </summary>
    public double BucketCapMb { get; init; } = 25;
}
