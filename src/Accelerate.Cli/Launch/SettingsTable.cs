using System.Text;

namespace Accelerate.Cli.Launch;

/// <summary>The table <c>--print_config</c> and <c>--debug</c> show: every effective setting, its value and where it came from.</summary>
internal static class SettingsTable
{
    /// <summary>Formats <paramref name="settings"/> as aligned columns.</summary>
    public static string Format(IReadOnlyList<EffectiveSetting> settings)
    {
        var nameWidth = settings.Max(s => s.Name.Length) + 2;
        var valueWidth = Math.Min(40, settings.Max(s => Shown(s.Value).Length)) + 2;
        var text = new StringBuilder();
        text.AppendLine($"{"setting".PadRight(nameWidth)}{"value".PadRight(valueWidth)}{"from",-13}source");
        foreach (var setting in settings)
            text.AppendLine($"{setting.Name.PadRight(nameWidth)}{Shown(setting.Value).PadRight(valueWidth)}{Origin(setting.Origin),-13}{setting.Source}");
        return text.ToString().TrimEnd();
    }

    private static string Shown(string value) => value.Length == 0 ? "<unset>" : value;

    private static string Origin(SettingOrigin origin) => origin switch
    {
        SettingOrigin.Flag => "flag",
        SettingOrigin.ConfigFile => "config file",
        SettingOrigin.Slurm => "slurm",
        SettingOrigin.Pet => "pet",
        SettingOrigin.Environment => "environment",
        _ => "default",
    };
}
