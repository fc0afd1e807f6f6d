namespace Accelerate;

/// <summary>
/// fp16 dynamic loss scaling (the policy of torch.amp.GradScaler): the loss is multiplied by
/// <see cref="Scale"/> before backward; a step whose gradients hold inf/NaN is skipped and halves the
/// scale; <see cref="GrowthInterval"/> clean steps in a row double it.
/// </summary>
public sealed class DynamicLossScaler
{
    internal DynamicLossScaler(double initialScale, int growthInterval)
    {
        Scale = initialScale;
        GrowthInterval = growthInterval;
    }

    /// <summary>The current loss scale.</summary>
    public double Scale { get; private set; }

    /// <summary>Clean steps since the scale last changed.</summary>
    public int GrowthTracker { get; private set; }

    /// <summary>Clean steps in a row after which the scale doubles.</summary>
    public int GrowthInterval { get; }

    /// <summary>Steps skipped so far because of inf/NaN gradients.</summary>
    public long SkippedSteps { get; private set; }

    internal void Update(bool foundNonFinite)
    {
        if (foundNonFinite)
        {
            Scale *= 0.5;
            GrowthTracker = 0;
            SkippedSteps++;
            return;
        }
        if (++GrowthTracker < GrowthInterval) return;
        Scale *= 2;
        GrowthTracker = 0;
    }

    internal ScalerState Capture() => new(Scale, GrowthTracker, SkippedSteps);

    internal void Restore(ScalerState state)
    {
        Scale = state.Scale;
        GrowthTracker = state.GrowthTracker;
        SkippedSteps = state.SkippedSteps;
    }

    internal sealed record ScalerState(double Scale, int GrowthTracker, long SkippedSteps);
}
