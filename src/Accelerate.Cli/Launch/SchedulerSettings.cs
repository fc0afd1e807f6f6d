using System.Globalization;
using Accelerate.Configuration.Launch;
using Accelerate.Configuration.Slurm;

namespace Accelerate.Cli.Launch;

/// <summary>
/// Settings the job the launcher runs in gives: a SLURM job step (<see cref="LaunchSetting.SlurmVariables"/>) or the
/// <c>PET_*</c> variables of a Kubeflow PyTorchJob (<see cref="LaunchSetting.PetVariable"/>). They rank below the
/// command line and the config file and above the environment and the defaults.
/// </summary>
internal sealed class SchedulerSettings(Func<string, string?> environment)
{
    /// <summary>True for a task of a SLURM job step; the batch script itself has no step id and is no launcher of a node.</summary>
    private bool InSlurmStep => !string.IsNullOrEmpty(environment("SLURM_STEP_ID")) || !string.IsNullOrEmpty(environment("SLURM_STEPID"));

    /// <summary>The value of <paramref name="option"/> the job gives as text, with its origin and the variable read, or null.</summary>
    /// <exception cref="LaunchException">ACC3080: the variable is malformed.</exception>
    public (string Text, SettingOrigin Origin, string Source)? Value(string option)
    {
        var setting = LaunchSettings.ByOption(option);
        if (setting is null) return null;
        if (InSlurmStep && setting.SlurmVariables?.FirstOrDefault(v => !string.IsNullOrEmpty(environment(v))) is { } slurm)
            return FromSlurm(setting, slurm, environment(slurm)!.Trim());
        if (setting.PetVariable is { } pet && environment(pet) is { Length: > 0 } text)
            return (Checked(setting, pet, text.Trim()), SettingOrigin.Pet, pet);
        return null;
    }

    /// <summary>
    /// Machine 0's address as SLURM names it (a node name), made reachable from here: where the name does not resolve,
    /// the node's <c>NodeAddr</c>, which <c>scontrol show node</c> reports. Settings from elsewhere are left alone.
    /// </summary>
    /// <exception cref="LaunchException">ACC3110: the name does not resolve and SLURM knows no other address.</exception>
    public static LaunchPlan WithReachableSlurmHost(LaunchPlan plan, LauncherConsole console)
    {
        var setting = plan.Settings.FirstOrDefault(s => s.Name == "main_process_ip");
        if (setting is not { Origin: SettingOrigin.Slurm }) return plan;
        var node = plan.MainProcessIp;
        var address = SlurmNodeAddress.Find(node, out var why)
            ?? throw new LaunchException(LaunchErrorCode.SlurmNodeUnreachable,
                $"Machine 0's node {node} ({setting.Source}) does not resolve on this machine, and SLURM gives no other address for it ({why}). " +
                "Make the node names resolve (DNS or /etc/hosts), set the node's NodeAddr in slurm.conf, or pass --main_process_ip with machine 0's address.", 1);
        if (address == node) return plan;
        console.Info($"machine 0's node {node} does not resolve here; using its NodeAddr {address} (`scontrol show node {node}`)");
        return plan with
        {
            MainProcessIp = address,
            Settings = [.. plan.Settings.Select(s => s == setting ? s with { Value = address, Source = $"NodeAddr of {node}, {setting.Source}" } : s)],
        };
    }

    private static (string, SettingOrigin, string) FromSlurm(LaunchSetting setting, string variable, string text)
    {
        switch (setting.Kind)
        {
            case LaunchValueKind.Host:
                try
                {
                    var first = SlurmHostList.First(text)
                        ?? throw new FormatException("it names no host.");
                    return (first, SettingOrigin.Slurm, "first host of " + variable);
                }
                catch (FormatException e)
                {
                    throw Malformed(variable, text, e.Message.TrimEnd('.') + ".", setting);
                }
            case LaunchValueKind.Port:
                var jobId = Number(variable, text, setting, minimum: 0);
                return ((15000 + jobId % 10000).ToString(CultureInfo.InvariantCulture), SettingOrigin.Slurm, $"15000 + last 4 digits of {variable}");
            default:
                return (Checked(setting, variable, text), SettingOrigin.Slurm, variable);
        }
    }

    /// <summary>Counts and indexes must be whole numbers; torchrun's <c>N:N</c> node range counts as N.</summary>
    private static string Checked(LaunchSetting setting, string variable, string text)
    {
        if (setting.Kind is LaunchValueKind.Host) return text;
        if (setting.Kind is LaunchValueKind.Text) return text; // nproc_per_node: a number, cpu, gpu or auto, checked as the option is.
        if (setting.Kind is LaunchValueKind.Count && text.Split(':') is [var low, var high])
        {
            if (low != high)
                throw Malformed(variable, text, "a range of machines (elastic) needs the dynamic rendezvous; this launch has a fixed number.", setting);
            text = low;
        }
        var minimum = setting.Kind is LaunchValueKind.Index ? 0 : 1;
        var value = Number(variable, text, setting, minimum);
        if (setting.Kind is LaunchValueKind.Port && value > 65535) throw Malformed(variable, text, "it is no port (1..65535).", setting);
        return value.ToString(CultureInfo.InvariantCulture);
    }

    private static long Number(string variable, string text, LaunchSetting setting, int minimum)
        => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= minimum
            ? value
            : throw Malformed(variable, text, $"it is not a whole number of at least {minimum}.", setting);

    private static LaunchException Malformed(string variable, string text, string why, LaunchSetting setting)
        => new(LaunchErrorCode.SchedulerVariable,
            $"The environment variable {variable}='{text}' that gives --{setting.Option} is malformed: {why} Fix or unset it, or pass {setting.Flag} yourself.");
}
