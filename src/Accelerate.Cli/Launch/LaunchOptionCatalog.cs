using System.Text;
using Accelerate.Configuration.Launch;

namespace Accelerate.Cli.Launch;

/// <summary>Every option <c>accelerate launch</c> understands (<see cref="LaunchSettings"/>), with HF accelerate's names and torchrun's as aliases.</summary>
internal static class LaunchOptionCatalog
{
    /// <summary>All options in help order, one per row of <see cref="LaunchSettings.All"/>.</summary>
    public static readonly LaunchOption[] All = LaunchSettings.All
        .Select(s => new LaunchOption(s.Option, s.Group, s.TakesValue, s.Help, s.AllowedValues, s.ShortName is { } letter ? [letter] : []))
        .ToArray();

    private static readonly Dictionary<string, LaunchOption> BySpelling = Index();

    /// <summary>Finds an option by any spelling (<c>num-processes</c>, <c>num_processes</c>, <c>q</c>).</summary>
    public static LaunchOption? Find(string spelling) => BySpelling.GetValueOrDefault(spelling.Replace('-', '_'));

    /// <summary>The text of <c>accelerate launch -h</c>.</summary>
    public static string Help()
    {
        var text = new StringBuilder();
        text.AppendLine("usage: accelerate launch [options] <program> [program args...]");
        text.AppendLine();
        text.AppendLine("<program> is a .dll (run with this dotnet), a native executable, or a project file or folder");
        text.AppendLine("(built, then its output run). Everything after it, or after '--', goes to the program untouched.");
        text.AppendLine("Every option is also spelled with dashes (--num-processes) and takes its value as '--opt v' or '--opt=v'.");
        foreach (var group in All.GroupBy(o => o.Group))
        {
            text.AppendLine();
            text.AppendLine(group.Key + ":");
            foreach (var option in group)
            {
                var spelling = string.Join(", ", option.Aliases.Where(a => a.Length == 1).Select(a => "-" + a).Append("--" + option.Name));
                if (option.TakesValue) spelling += " " + option.ValueHint;
                // As argparse: a spelling too long for the column gets its help on the next line.
                text.AppendLine(spelling.Length < 44 ? $"  {spelling,-44} {option.Help}" : $"  {spelling}\n  {"",-44} {option.Help}");
            }
        }
        text.AppendLine();
        text.AppendLine("Precedence: command line, then the config file, then SLURM or a PyTorchJob's PET_* variables, then the environment, then defaults (see --print_config).");
        text.AppendLine("Not supported (refused with a code): " + string.Join(", ", LaunchSettings.Unsupported.Select(f => f.Name)) + ".");
        return text.ToString();
    }

    private static Dictionary<string, LaunchOption> Index()
    {
        var index = new Dictionary<string, LaunchOption>(StringComparer.Ordinal);
        foreach (var option in All)
        {
            index[option.Name] = option;
            foreach (var alias in option.Aliases) index[alias] = option;
        }
        return index;
    }
}
