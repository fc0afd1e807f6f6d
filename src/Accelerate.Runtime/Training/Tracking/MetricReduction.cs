namespace Accelerate.Tracking;

/// <summary>How <see cref="Accelerator.Log"/> combines a metric that every rank computed on its own share.</summary>
public enum MetricReduction
{
    /// <summary>Only the main process's values are recorded; the other ranks' calls do nothing (HF's <c>log</c>). No communication.</summary>
    MainOnly,

    /// <summary>The mean over ranks (an all-reduce: every rank must call <see cref="Accelerator.Log"/> with the same metric names).</summary>
    Mean,

    /// <summary>The largest value on any rank (an all-reduce: every rank must call).</summary>
    Max,

    /// <summary>The sum over ranks (an all-reduce: every rank must call).</summary>
    Sum,
}
