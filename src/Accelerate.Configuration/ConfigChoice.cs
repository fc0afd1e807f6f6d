namespace Accelerate.Configuration;

/// <summary>
/// A value of a config setting with a fixed set of choices (<see cref="DistributedType"/>, <see cref="MixedPrecision"/>, …).
/// Each choice is a single instance, compared by reference, and converts implicitly to its HF spelling
/// (<c>string? name = config.DistributedType</c> gives <c>"MULTI_GPU"</c>).
/// </summary>
public abstract class ConfigChoice
{
    private protected ConfigChoice(string name) => Name = name;

    /// <summary>The spelling HF accelerate uses in config files and on the command line, e.g. <c>MULTI_GPU</c>.</summary>
    public string Name { get; }

    /// <summary>The HF spelling.</summary>
    public override string ToString() => Name;

    /// <summary>The HF spelling, or null for null.</summary>
    public static implicit operator string?(ConfigChoice? choice) => choice?.Name;

    /// <summary>Reads an HF spelling (letter case ignored, as hand-written files vary); false when it is not a supported choice.</summary>
    public static bool TryParse<T>(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? value) where T : ConfigChoice, IConfigChoice<T>
    {
        value = T.All.FirstOrDefault(c => string.Equals(c.Name, text?.Trim(), StringComparison.OrdinalIgnoreCase));
        return value is not null;
    }

    /// <summary>The supported spellings of <typeparamref name="T"/>, comma-separated, for messages.</summary>
    public static string Allowed<T>() where T : ConfigChoice, IConfigChoice<T> => string.Join(", ", T.All.Select(c => c.Name));
}
