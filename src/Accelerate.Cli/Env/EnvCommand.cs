using System.Globalization;
using System.Runtime.InteropServices;
using Accelerate.Cli.Config;
using Accelerate.Configuration;

namespace Accelerate.Cli.Env;

/// <summary><c>accelerate env [--config_file PATH]</c>: what to paste into a bug report.</summary>
internal static class EnvCommand
{
    public static int Run(string[] args) => Run(args, CommandContext.FromSystem());

    public static int Run(IReadOnlyList<string> args, CommandContext context)
    {
        CommandArguments arguments;
        try
        {
            arguments = CommandArguments.Parse(args, "config_file");
        }
        catch (ArgumentException e)
        {
            context.Error.WriteLine($"accelerate env: {e.Message}");
            return 2;
        }
        if (arguments.Help)
        {
            context.Out.WriteLine("usage: accelerate env [--config_file PATH]\n\nPrints versions, hardware and the config file, to paste into a bug report.");
            return 0;
        }

        var cuda = context.Cuda();
        var path = arguments.ConfigFile is { } explicitPath
            ? ConfigPaths.ExpandHome(explicitPath, context.Environment)
            : ConfigPaths.DefaultConfigFile(context.Environment);
        var output = context.Out;
        output.WriteLine("Copy-and-paste the text below in your GitHub issue");
        output.WriteLine();
        output.WriteLine($"- Accelerate for .NET version: {BuildInfo.ProductVersion}");
        output.WriteLine($"- .NET runtime: {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})");
        output.WriteLine($"- Platform: {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})");
        output.WriteLine($"- `accelerate` location: {AppContext.BaseDirectory}");
        output.WriteLine($"- CPU count: {Environment.ProcessorCount}");
        output.WriteLine($"- System RAM: {(SystemMemory.TotalBytes() / (1024.0 * 1024 * 1024)).ToString("F2", CultureInfo.InvariantCulture)} GiB");
        output.WriteLine($"- TorchSharp version (built against): {BuildInfo.TorchSharpVersion}");
        output.WriteLine($"- libtorch version (built against): {BuildInfo.LibTorchVersion}");
        output.WriteLine($"- CUDA available: {(cuda.Available ? "yes" : "no")} ({cuda.Reason})");
        if (cuda.DriverVersion is not null) output.WriteLine($"- NVIDIA driver: {cuda.DriverVersion}");
        foreach (var gpu in cuda.Gpus) output.WriteLine($"- GPU: {gpu}");
        output.WriteLine($"- Config file: {path}");
        WriteConfig(output, path);
        return 0;
    }

    private static void WriteConfig(TextWriter output, string path)
    {
        if (!File.Exists(path))
        {
            output.WriteLine("- Config: not found");
            return;
        }
        try
        {
            var config = ConfigFile.Load(path);
            output.WriteLine("- Config:");
            foreach (var line in ConfigFile.Serialize(config, ConfigFormat.Yaml).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                output.WriteLine($"\t{line}");
        }
        catch (ConfigFileException e)
        {
            output.WriteLine("- Config: invalid");
            foreach (var line in e.Message.Split('\n')) output.WriteLine($"\t{line.TrimEnd('\r')}");
        }
    }
}
