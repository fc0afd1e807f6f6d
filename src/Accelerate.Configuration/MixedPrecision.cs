namespace Accelerate.Configuration;

/// <summary>HF accelerate's <c>mixed_precision</c>; becomes <c>ACCELERATE_MIXED_PRECISION</c> in every rank.</summary>
public enum MixedPrecision
{
    /// <summary><c>no</c>: full precision.</summary>
    No,
    /// <summary><c>fp16</c>: half precision.</summary>
    Fp16,
    /// <summary><c>bf16</c>: bfloat16.</summary>
    Bf16,
}
