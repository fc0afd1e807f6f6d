using System.Text;
using Accelerate.Configuration.Launch;
using Microsoft.Build.Framework;
using Task = Microsoft.Build.Utilities.Task;

namespace Accelerate.Build.Launch;

/// <summary>
/// Turns a project's launch properties into the <c>accelerate launch</c> command line that <c>dotnet run</c>
/// and the <c>AccelerateLaunch</c> target run: each property set becomes its flag, as <see cref="LaunchSettings"/>
/// maps it, so that a new setting needs no change to the SDK's targets.
/// </summary>
public sealed class ComputeLaunchCommand : Task
{
    /// <summary>The launch properties as items (item spec: the property name; metadata <c>Value</c>), and <c>Device</c>.</summary>
    public ITaskItem[] Properties { get; set; } = [];

    /// <summary>The project folder, against which a relative <c>AccelerateConfig</c> is resolved.</summary>
    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary>The launcher: <c>accelerate.dll</c> (run through the dotnet host), or a native <c>accelerate</c> executable (run itself).</summary>
    [Required] public string LauncherPath { get; set; } = "";

    /// <summary>The dotnet host that runs an <c>accelerate.dll</c> launcher.</summary>
    public string DotnetHostPath { get; set; } = "dotnet";

    /// <summary>The program the launcher starts.</summary>
    [Required] public string TargetPath { get; set; } = "";

    /// <summary><c>AccelerateLaunchArguments</c>: other launcher flags, passed as written after the others.</summary>
    public string? LaunchArguments { get; set; }

    /// <summary>True when <c>nvidia-smi</c> lists GPUs: only then does <c>dotnet run -\-device cpu</c> need <c>-\-cpu</c>.</summary>
    public bool HasGpus { get; set; }

    /// <summary>What to run: the dotnet host for <c>accelerate.dll</c>, else the native launcher itself.</summary>
    [Output] public string Command { get; private set; } = "";

    /// <summary>
    /// The arguments of <see cref="Command"/>: <c>exec "accelerate.dll" launch --num_processes 2 ... "program.dll"</c>,
    /// or from <c>launch</c> on for the native launcher.
    /// </summary>
    [Output] public string CommandArguments { get; private set; } = "";

    /// <inheritdoc />
    public override bool Execute()
    {
        var values = Properties.ToDictionary(p => p.ItemSpec, p => p.GetMetadata("Value").Trim(), StringComparer.OrdinalIgnoreCase);
        string Value(string name) => values.GetValueOrDefault(name) ?? "";
        var device = Value("Device");

        var throughHost = LauncherPath.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        Command = throughHost ? DotnetHostPath : LauncherPath;
        var command = new StringBuilder(throughHost ? $"exec \"{LauncherPath}\" launch" : "launch");
        foreach (var setting in LaunchSettings.Properties)
        {
            var value = Value(setting.Property!);
            if (setting.Kind == LaunchValueKind.Flag)
            {
                // dotnet run picks the only device (cpu) by itself, so --device cpu means "force CPU" only where GPUs are listed.
                var forcedCpu = setting.Option == "cpu" && value.Length == 0 && device == "cpu" && HasGpus;
                if (value.Equals("true", StringComparison.OrdinalIgnoreCase) || forcedCpu) command.Append(' ').Append(setting.Flag);
                continue;
            }
            if (value.Length == 0 && setting.Option == "gpu_ids" && device.StartsWith("cuda:", StringComparison.Ordinal)) value = device["cuda:".Length..];
            if (value.Length == 0) continue;
            command.Append(' ').Append(setting.Flag).Append(' ').Append(setting.Kind == LaunchValueKind.Path
                ? Quoted(Path.GetFullPath(value, ProjectDirectory))
                : value);
        }
        if (!string.IsNullOrWhiteSpace(LaunchArguments)) command.Append(' ').Append(LaunchArguments);
        command.Append(' ').Append(Quoted(TargetPath));
        CommandArguments = command.ToString();
        return true;
    }

    private static string Quoted(string path) => $"\"{path}\"";
}
