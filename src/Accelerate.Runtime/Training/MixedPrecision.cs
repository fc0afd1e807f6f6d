namespace Accelerate;

/// <summary>Precision the forward and backward passes run in (<c>--mixed_precision</c>).</summary>
public enum MixedPrecision
{
    /// <summary>Everything in the model's own dtype (fp32 as a rule).</summary>
    No,
    /// <summary>Forward and backward in float16 with fp32 master weights and dynamic loss scaling.</summary>
    Fp16,
    /// <summary>Forward and backward in bfloat16 with fp32 master weights.</summary>
    Bf16,
}
