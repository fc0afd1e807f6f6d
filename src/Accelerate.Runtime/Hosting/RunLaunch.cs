using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Accelerate.Hosting;

/// <summary>
/// <c>dotnet run -t:AccelerateLaunch</c>: .NET 10's <c>dotnet run</c> has no <c>-t</c> option and passes
/// <c>-t:AccelerateLaunch</c> to the program as its first argument. A project built with Accelerate.Sdk has,
/// next to the program, the launch command its <c>AccelerateLaunch</c> target would run
/// (<see cref="CommandFileSuffix"/>: the host, then the <c>accelerate launch</c> arguments resolved from the
/// project's launch properties at build time); the generated entry point then runs that command, with the
/// program's other arguments, instead of training in this process. Without the file (a project not built by the
/// SDK) the argument stays the program's own; any other first argument, e.g. <c>-t:5</c>, is never touched.
/// </summary>
internal sealed class RunLaunch(string host, string arguments)
{
    /// <summary>The exact first argument that asks for the launch.</summary>
    public const string Argument = "-t:AccelerateLaunch";

    /// <summary>The file next to the program (<c>NAME.accelerate-launch.txt</c>) that Accelerate.Sdk writes at build time.</summary>
    public const string CommandFileSuffix = ".accelerate-launch.txt";

    /// <summary>The dotnet host that runs the launcher.</summary>
    public string Host { get; } = host;

    /// <summary>The launcher's arguments, ending with the program's path (command-line quoting).</summary>
    public string Arguments { get; } = arguments;

    /// <summary>The command the SDK wrote next to the entry assembly, or null when there is none.</summary>
    public static RunLaunch? Find()
    {
        var name = Assembly.GetEntryAssembly()?.GetName().Name;
        if (name is null) return null;
        var path = Path.Combine(AppContext.BaseDirectory, name + CommandFileSuffix);
        if (!File.Exists(path)) return null;
        var lines = File.ReadAllLines(path).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length != 2)
            throw new AccelerateException(RuntimeErrorCode.RunLaunchFailed, $"'{path}' does not hold a launch command (the host, then the launcher's arguments): it was not written by this version of Accelerate.Sdk. Build the project again (dotnet run without --no-build).");
        return new RunLaunch(File.Exists(lines[0].Trim()) ? lines[0].Trim() : "dotnet", lines[1].Trim());
    }

    /// <summary>
    /// Runs the launcher with <paramref name="programArguments"/> after the program and returns its exit code.
    /// Ctrl+C reaches the launcher from the terminal (one process group), so this process only waits; SIGTERM and
    /// SIGHUP are passed on, so that the launcher stops its ranks as it does when signalled itself.
    /// </summary>
    public int Run(IEnumerable<string> programArguments)
    {
        var start = new ProcessStartInfo(Host) { UseShellExecute = false };
        var arguments = new StringBuilder(Arguments);
        foreach (var argument in programArguments) arguments.Append(' ').Append(Quote(argument));
        start.Arguments = arguments.ToString();
        Process launcher;
        try
        {
            launcher = Process.Start(start) ?? throw new InvalidOperationException("no process started");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new AccelerateException(RuntimeErrorCode.RunLaunchFailed, $"dotnet run -t:AccelerateLaunch could not start the launcher ({Host} {Arguments}): {e.Message}. Build the project again, or launch with dotnet run -p:NumProcesses=N.", e);
        }
        using (launcher)
        {
            var registrations = new List<PosixSignalRegistration>();
            try
            {
                registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true));
                foreach (var (signal, number) in new[] { (PosixSignal.SIGTERM, 15), (PosixSignal.SIGHUP, 1) })
                    registrations.Add(PosixSignalRegistration.Create(signal, c =>
                    {
                        c.Cancel = true;
                        if (!OperatingSystem.IsWindows()) _ = Kill(launcher.Id, number);
                    }));
            }
            catch (PlatformNotSupportedException)
            {
                // Windows has no SIGHUP; Ctrl+C still reaches the launcher.
            }
            try
            {
                launcher.WaitForExit();
                return launcher.ExitCode;
            }
            finally
            {
                foreach (var registration in registrations) registration.Dispose();
            }
        }
    }

    /// <summary>One argument quoted for <see cref="ProcessStartInfo.Arguments"/>.</summary>
    internal static string Quote(string argument)
    {
        if (argument.Length > 0 && !argument.Any(c => char.IsWhiteSpace(c) || c == '"' || c == '\\')) return argument;
        var quoted = new StringBuilder("\"");
        var backslashes = 0;
        foreach (var c in argument)
        {
            if (c == '\\')
            {
                backslashes++;
                continue;
            }
            // Backslashes before a quote are doubled, and the quote escaped; elsewhere they stand as they are.
            quoted.Append('\\', c == '"' ? backslashes * 2 + 1 : backslashes).Append(c);
            backslashes = 0;
        }
        return quoted.Append('\\', backslashes * 2).Append('"').ToString();
    }

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
