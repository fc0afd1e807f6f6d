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
    /// <summary>
    /// True with the c10d rendezvous: a <c>PET_NNODES</c> range <c>MIN:MAX</c> (an elastic PyTorchJob) is then the
    /// machine range, MAX as <c>num_machines</c> and MIN from <see cref="MinMachines"/>; with the static one it is refused (ACC3122).
    /// </summary>
    public bool DynamicRendezvous { get; set; }

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
            return Range(setting, pet, text.Trim()) is { } range
                ? (range.Max.ToString(CultureInfo.InvariantCulture), SettingOrigin.Pet, $"MAX of {pet} {text.Trim()}")
                : (Checked(setting, pet, text.Trim()), SettingOrigin.Pet, pet);
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

    /// <summary>MIN of the job's machine range (an elastic PyTorchJob's <c>PET_NNODES</c> MIN:MAX), or null when the job gives one number or none.</summary>
    public int? MinMachines()
    {
        if (Value("num_machines") is not { Origin: SettingOrigin.Pet }) return null;
        var setting = LaunchSettings.ByOption("num_machines")!;
        return Range(setting, setting.PetVariable!, environment(setting.PetVariable!)!.Trim())?.Min;
    }

    /// <summary>A <c>PET_NNODES</c> range whose bounds differ, checked; null for anything else.</summary>
    /// <exception cref="LaunchException">ACC3080: a malformed range; ACC3122: a range with the static rendezvous.</exception>
    private (int Min, int Max)? Range(LaunchSetting setting, string variable, string text)
    {
        if (setting.Kind is not LaunchValueKind.Count || text.Split(':') is not [var low, var high] || low == high) return null;
        if (!long.TryParse(low, NumberStyles.None, CultureInfo.InvariantCulture, out var min) || !long.TryParse(high, NumberStyles.None, CultureInfo.InvariantCulture, out var max)
            || min < 1 || max < min || max > int.MaxValue)
            throw Malformed(variable, text, "a range of machines is MIN:MAX with 1 <= MIN <= MAX, like 1:4.", setting);
        if (min == max) return null;
        if (!DynamicRendezvous)
            throw new LaunchException(LaunchErrorCode.PetRangeNeedsC10d,
                $"The environment variable {variable}='{text}' is a range of machines (an elastic PyTorchJob), which needs the c10d rendezvous; this launch uses the static one. " +
                "Set PET_RDZV_BACKEND=c10d and PET_RDZV_ENDPOINT=HOST:PORT (Kubeflow sets both for a job with an elasticPolicy), or pass --rdzv_backend c10d --rdzv_endpoint HOST:PORT; " +
                $"or give one number of machines in {variable}.");
        return ((int)min, (int)max);
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
        // nproc_per_node (a number, cpu, gpu or auto), the rendezvous endpoint and id, the backend: checked as the options are.
        if (setting.Kind is LaunchValueKind.Text or LaunchValueKind.Choice) return text;
        if (setting.Kind is LaunchValueKind.Count && text.Split(':') is [var low, var high] && low == high) text = low; // N:N: a range of one size.
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
