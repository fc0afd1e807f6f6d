namespace Accelerate.Configuration.Launch;

/// <summary>
/// An HF accelerate launch feature this product does not have (DeepSpeed, FSDP, ...): its options are refused with
/// <see cref="Code"/> and a message saying so, rather than as unknown options. <see cref="LaunchSettings.Unsupported"/> lists them.
/// </summary>
/// <param name="Name">The feature as users know it (<c>DeepSpeed</c>).</param>
/// <param name="Code">The launcher's error code (ACC307x).</param>
/// <param name="Instead">What to do instead, one sentence.</param>
public sealed record UnsupportedFeature(string Name, string Code, string Instead)
{
    /// <summary>Option names (without dashes, with underscores) that belong to the feature whatever their value.</summary>
    public string[] Options { get; init; } = [];

    /// <summary>Option name prefixes (<c>fsdp_</c>) whose every option belongs to the feature.</summary>
    public string[] Prefixes { get; init; } = [];

    /// <summary>For a setting this product has (<c>mixed_precision</c>): the option whose <see cref="RefusedValues"/> are the feature.</summary>
    public string? ValueOf { get; init; }

    /// <summary>Values of <see cref="ValueOf"/> that ask for the feature; null means every value but <see cref="KeptValue"/>.</summary>
    public string[]? RefusedValues { get; init; }

    /// <summary>With <see cref="RefusedValues"/> null: the one value of <see cref="ValueOf"/> that asks for nothing (<c>no</c>).</summary>
    public string? KeptValue { get; init; }

    /// <summary>True when <paramref name="option"/> (canonical, underscores) belongs to the feature whatever its value.</summary>
    public bool Owns(string option) => Options.Contains(option) || Prefixes.Any(p => option.StartsWith(p, StringComparison.Ordinal));

    /// <summary>True when <paramref name="value"/> of <paramref name="option"/> asks for the feature.</summary>
    public bool Refuses(string option, string value) => option == ValueOf
        && (RefusedValues is { } refused ? refused.Contains(value, StringComparer.OrdinalIgnoreCase) : !string.Equals(value, KeptValue, StringComparison.OrdinalIgnoreCase));
}
