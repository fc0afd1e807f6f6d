namespace Accelerate.Cli.Launch;

/// <summary>One <c>accelerate launch</c> option: its canonical name, aliases, whether it takes a value, and its help.</summary>
/// <param name="Name">Canonical spelling without dashes, as HF accelerate spells it (<c>num_processes</c>).</param>
/// <param name="Group">Help group, as HF accelerate groups its options.</param>
/// <param name="TakesValue">False for flags (<c>--cpu</c>), which still accept <c>--cpu=true|false</c>.</param>
/// <param name="Help">One-line help.</param>
/// <param name="AllowedValues">The only values accepted, when the option is a choice.</param>
/// <param name="Aliases">Other spellings (torchrun's), each with its own meaning noted in <paramref name="Help"/>.</param>
internal sealed record LaunchOption(string Name, string Group, bool TakesValue, string Help, string[]? AllowedValues = null, params string[] Aliases)
{
    /// <summary>Metavariable shown in help.</summary>
    public string ValueHint => AllowedValues is { } values ? "{" + string.Join(',', values) + "}" : Name.ToUpperInvariant();
}
