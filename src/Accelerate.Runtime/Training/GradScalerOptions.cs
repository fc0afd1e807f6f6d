namespace Accelerate;

/// <summary>
/// fp16 dynamic loss scaling, the settings of <c>torch.amp.GradScaler</c> that HF accelerate passes
/// through <c>GradScalerKwargs</c>. Used only when <see cref="AcceleratorOptions.MixedPrecision"/> is fp16.
/// </summary>
public sealed record GradScalerOptions
{
    /// <summary>The loss scale of the first step (default 2^16). Must be positive.</summary>
    public double InitScale { get; init; } = 65536;

    /// <summary>What the scale is multiplied by after <see cref="GrowthInterval"/> clean steps in a row (default 2). Must be greater than 1.</summary>
    public double GrowthFactor { get; init; } = 2;

    /// <summary>What the scale is multiplied by when a step's gradients hold inf/NaN and the step is skipped (default 0.5). Must lie between 0 and 1.</summary>
    public double BackoffFactor { get; init; } = 0.5;

    /// <summary>Clean steps in a row after which the scale grows (default 2000). Must be at least 1.</summary>
    public int GrowthInterval { get; init; } = 2000;

    /// <summary>
    /// False turns loss scaling off under fp16 (default true): the loss is not scaled, no step is
    /// skipped, and <see cref="Accelerator.LossScaler"/> is null.
    /// </summary>
    public bool Enabled { get; init; } = true;
}
