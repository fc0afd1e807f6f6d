namespace Accelerate.Configuration;

/// <summary>HF accelerate's <c>mixed_precision</c>; becomes <c>ACCELERATE_MIXED_PRECISION</c> in every rank.</summary>
public sealed class MixedPrecision : ConfigChoice, IConfigChoice<MixedPrecision>
{
    /// <summary><c>no</c>: full precision.</summary>
    public static readonly MixedPrecision No = new("no");
    /// <summary><c>fp16</c>: half precision.</summary>
    public static readonly MixedPrecision Fp16 = new("fp16");
    /// <summary><c>bf16</c>: bfloat16.</summary>
    public static readonly MixedPrecision Bf16 = new("bf16");

    private MixedPrecision(string name) : base(name) { }

    /// <inheritdoc/>
    public static IReadOnlyList<MixedPrecision> All { get; } = [No, Fp16, Bf16];

    /// <inheritdoc/>
    public static IReadOnlyList<string> Unsupported { get; } = ["fp8"];
}
