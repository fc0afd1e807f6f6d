namespace Accelerate.Cli.Launch;

/// <summary>One setting the launch uses, with where it came from (what <c>--print_config</c> shows).</summary>
/// <param name="Name">Option name (<c>num_processes</c>).</param>
/// <param name="Value">Value as text; empty when unset.</param>
/// <param name="Origin">Where it came from.</param>
/// <param name="Source">The exact source: the flag spelling, the file path, the variable name, or why the default.</param>
internal sealed record EffectiveSetting(string Name, string Value, SettingOrigin Origin, string Source);
