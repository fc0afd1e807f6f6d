using System.Diagnostics;
using System.Text;

namespace Accelerate.Testing;

/// <summary>Runs the dotnet CLI as a user would, with a timeout, and kills the whole process tree if it is exceeded.</summary>
internal static class DotNet
{
    public static (int ExitCode, string Output) Run(string workingDirectory, params string[] arguments) =>
        Run(workingDirectory, TimeSpan.FromMinutes(4), null, arguments);

    public static (int ExitCode, string Output) Run(string workingDirectory, TimeSpan timeout, IDictionary<string, string?>? environment, params string[] arguments) =>
        RunProgram("dotnet", workingDirectory, timeout, environment, arguments);

    /// <summary>Runs <paramref name="program"/> (e.g. an installed .NET tool) with the same environment and timeout handling.</summary>
    public static (int ExitCode, string Output) RunProgram(string program, string workingDirectory, TimeSpan timeout, IDictionary<string, string?>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        // A child build must not join the test run's build nodes, inherit its test-platform settings, or prompt.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en-US";
        start.Environment["MSBUILDTERMINALLOGGER"] = "false";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) start.Environment[key] = value;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            if (!process.WaitForExit(timeout))
                throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}:\n{output}");
            process.WaitForExit();
            lock (output) return (process.ExitCode, output.ToString());
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
