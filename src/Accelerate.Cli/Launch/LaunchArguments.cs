using Accelerate.Configuration.Launch;

namespace Accelerate.Cli.Launch;

/// <summary>The command line of <c>accelerate launch</c> split into options (as given) and the program with its arguments.</summary>
internal sealed class LaunchArguments
{
    /// <summary>Options given, by canonical name (the last one wins, as with argparse); flags hold "true" or "false".</summary>
    public Dictionary<string, string> Options { get; } = new(StringComparer.Ordinal);

    /// <summary>How each option was spelled on the command line (<c>--nproc-per-node</c>), for messages.</summary>
    public Dictionary<string, string> Spellings { get; } = new(StringComparer.Ordinal);

    /// <summary>The program to run, or null when only help was asked.</summary>
    public string? Program { get; private set; }

    /// <summary>Arguments passed to the program untouched.</summary>
    public IReadOnlyList<string> ProgramArguments { get; private set; } = [];

    /// <summary>True for <c>-h</c>/<c>--help</c>.</summary>
    public bool HelpRequested { get; private set; }

    /// <summary>Splits <paramref name="args"/>; throws <see cref="LaunchException"/> naming the bad option.</summary>
    public static LaunchArguments Parse(IReadOnlyList<string> args)
    {
        var parsed = new LaunchArguments();
        var i = 0;
        for (; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--") { i++; break; }
            if (arg is "-h" or "--help") { parsed.HelpRequested = true; return parsed; }
            if (!arg.StartsWith('-') || arg == "-") break;

            var body = arg.TrimStart('-');
            var equals = body.IndexOf('=');
            var name = equals < 0 ? body : body[..equals];
            var option = LaunchOptionCatalog.Find(name);
            if (option is null && LaunchSettings.Unsupported.FirstOrDefault(f => f.Owns(name.Replace('-', '_'))) is { } feature)
                throw NotSupported(feature, arg.Split('=')[0]);
            if (option is null) throw Unknown(arg);
            string value;
            if (equals >= 0) value = body[(equals + 1)..];
            else if (!option.TakesValue) value = "true";
            else if (i + 1 < args.Count) value = args[++i];
            else throw new LaunchException(LaunchErrorCode.MissingValue, $"{arg} needs a value: {arg} {option.ValueHint}.");

            if (!option.TakesValue && value is not ("true" or "false" or "True" or "False" or "1" or "0"))
                throw new LaunchException(LaunchErrorCode.BadValue, $"{arg} is a flag: give it alone, or as {arg}=true / {arg}=false (got '{value}').");
            if (LaunchSettings.Unsupported.FirstOrDefault(f => f.Refuses(option.Name, value)) is { } refused)
                throw NotSupported(refused, $"{arg.Split('=')[0]} {value}");
            if (option.AllowedValues is { } allowed && !allowed.Contains(value))
                throw new LaunchException(LaunchErrorCode.BadValue, $"{arg} '{value}' is not allowed: use one of {string.Join(", ", allowed)}.");
            parsed.Options[option.Name] = option.TakesValue ? value : (value is "true" or "True" or "1" ? "true" : "false");
            parsed.Spellings[option.Name] = arg.Split('=')[0];
        }

        if (i < args.Count)
        {
            parsed.Program = args[i];
            parsed.ProgramArguments = args.Skip(i + 1).ToArray();
        }
        return parsed;
    }

    /// <summary>The option's value if given on the command line.</summary>
    public string? Get(string name) => Options.GetValueOrDefault(name);

    private static LaunchException NotSupported(UnsupportedFeature feature, string given)
        => new(feature.Code, $"{given}: {feature.Name} is not supported by Accelerate for .NET. {feature.Instead}");

    private static LaunchException Unknown(string arg)
    {
        var name = arg.TrimStart('-').Split('=')[0].Replace('-', '_');
        var close = LaunchOptionCatalog.All
            .Select(o => o.Name)
            .Where(n => n.Contains(name, StringComparison.Ordinal) || name.Contains(n, StringComparison.Ordinal))
            .Take(3)
            .ToList();
        var hint = close.Count > 0 ? $" Did you mean {string.Join(" or ", close.Select(c => "--" + c))}?" : "";
        return new LaunchException(LaunchErrorCode.UnknownOption, $"Unknown option '{arg}'.{hint} See 'accelerate launch -h' for every option; put program arguments after the program (or after '--').");
    }
}
