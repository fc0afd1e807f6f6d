namespace Accelerate.Cli.Config;

/// <summary>
/// The options of <c>config</c>, <c>config default</c>, <c>config update</c> and <c>env</c>, spelt as HF accelerate
/// (<c>--config_file</c>, also <c>--config-file</c> and <c>--config_file=P</c>).
/// </summary>
internal sealed record CommandArguments(string? ConfigFile, string? MixedPrecision, bool Force, bool Help)
{
    /// <summary>Reads <paramref name="args"/>, accepting only the options named in <paramref name="allowed"/> (underscore spelling).</summary>
    /// <exception cref="ArgumentException">An unknown option, or an option without its value.</exception>
    public static CommandArguments Parse(IReadOnlyList<string> args, params string[] allowed)
    {
        var result = new CommandArguments(null, null, false, false);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                result = result with { Help = true };
                continue;
            }
            var (name, inline) = arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=') is var eq and > 0
                ? (arg[2..eq], arg[(eq + 1)..])
                : (arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg, null);
            name = name.Replace('-', '_');
            if (!arg.StartsWith("--", StringComparison.Ordinal) || !allowed.Contains(name))
                throw new ArgumentException($"unknown argument '{arg}'. Options: {string.Join(", ", allowed.Select(a => "--" + a))}.");
            if (name == "force")
            {
                result = result with { Force = true };
                continue;
            }
            var value = inline ?? (i + 1 < args.Count ? args[++i] : throw new ArgumentException($"--{name} needs a value."));
            result = name switch
            {
                "config_file" => result with { ConfigFile = value },
                "mixed_precision" => result with { MixedPrecision = value },
                _ => result,
            };
        }
        return result;
    }
}
