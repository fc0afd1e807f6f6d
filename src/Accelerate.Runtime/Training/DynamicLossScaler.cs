namespace Accelerate;

/// <summary>
/// fp16 dynamic loss scaling (the policy of torch.amp.GradScaler): the loss is multiplied by
/// <see cref="Scale"/> before backward; a step whose gradients hold inf/NaN is skipped and multiplies
/// the scale by <see cref="BackoffFactor"/>; <see cref="GrowthInterval"/> clean steps in a row
/// multiply it by <see cref="GrowthFactor"/>.
/// </summary>
public sealed class DynamicLossScaler
{
    internal DynamicLossScaler(GradScalerOptions options)
    {
        Validate(options);
        Scale = options.InitScale;
        GrowthFactor = options.GrowthFactor;
        BackoffFactor = options.BackoffFactor;
        GrowthInterval = options.GrowthInterval;
    }

    /// <summary>The current loss scale.</summary>
    public double Scale { get; private set; }

    /// <summary>Clean steps since the scale last changed.</summary>
    public int GrowthTracker { get; private set; }

    /// <summary>Clean steps in a row after which the scale grows.</summary>
    public int GrowthInterval { get; }

    /// <summary>What the scale is multiplied by after <see cref="GrowthInterval"/> clean steps.</summary>
    public double GrowthFactor { get; }

    /// <summary>What the scale is multiplied by on a skipped step.</summary>
    public double BackoffFactor { get; }

    /// <summary>Steps skipped so far because of inf/NaN gradients.</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>Refuses settings torch.amp.GradScaler refuses (and a scale that could not work), naming the option.</summary>
    internal static void Validate(GradScalerOptions options)
    {
        static AccelerateException Bad(string option, double value, string rule, string example) =>
            new(RuntimeErrorCode.BadGradScalerOption, $"GradScalerOptions.{option} is {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}; it must be {rule}. Set it to e.g. {example} (the default), or set Enabled = false to turn loss scaling off.");
        if (!(options.InitScale > 0) || double.IsInfinity(options.InitScale)) throw Bad(nameof(options.InitScale), options.InitScale, "a positive finite number", "65536");
        if (!(options.GrowthFactor > 1) || double.IsInfinity(options.GrowthFactor)) throw Bad(nameof(options.GrowthFactor), options.GrowthFactor, "greater than 1 (the scale grows after clean steps)", "2");
        if (!(options.BackoffFactor > 0 && options.BackoffFactor < 1)) throw Bad(nameof(options.BackoffFactor), options.BackoffFactor, "between 0 and 1, both excluded (the scale shrinks after an overflow)", "0.5");
        if (options.GrowthInterval < 1) throw Bad(nameof(options.GrowthInterval), options.GrowthInterval, "at least 1 (clean steps before the scale grows)", "2000");
    }

    internal void Update(bool foundNonFinite)
    {
        if (foundNonFinite)
        {
            Scale *= BackoffFactor;
            GrowthTracker = 0;
            SkippedSteps++;
            return;
        }
        if (++GrowthTracker < GrowthInterval) return;
        Scale *= GrowthFactor;
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
