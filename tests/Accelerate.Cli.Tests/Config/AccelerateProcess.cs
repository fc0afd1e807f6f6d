using System.Diagnostics;
using System.Text;

namespace Accelerate.Cli.Tests.Config;

/// <summary>
/// The real <c>accelerate</c> command (accelerate.dll, copied next to the tests) run as a child process, optionally
/// inside a pseudo-terminal made by util-linux <c>script</c>. Output is collected as it arrives so a test can wait
/// for a prompt before answering it. Dispose kills the whole tree if it is still running.
/// </summary>
internal sealed class AccelerateProcess : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly StringBuilder error = new();
    private readonly SemaphoreSlim arrived = new(0);
    private readonly Task pumps;

    private AccelerateProcess(ProcessStartInfo start, IReadOnlyDictionary<string, string> environment)
    {
        start.RedirectStandardInput = start.RedirectStandardOutput = start.RedirectStandardError = true;
        start.UseShellExecute = false;
        foreach (var (name, value) in environment) start.Environment[name] = value;
        process = Process.Start(start)!;
        pumps = Task.WhenAll(Pump(process.StandardOutput, output), Pump(process.StandardError, error));
    }

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "accelerate.dll");

    public static string? ScriptCommand => new[] { "/usr/bin/script", "/bin/script" }.FirstOrDefault(File.Exists);

    /// <summary>Starts <c>dotnet accelerate.dll args</c> with pipes for stdin/stdout/stderr (no terminal).</summary>
    public static AccelerateProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet");
        start.ArgumentList.Add(Dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return new AccelerateProcess(start, environment);
    }

    /// <summary>Starts <c>accelerate args</c> inside a pseudo-terminal (stdin and stdout are a TTY for the command).</summary>
    public static AccelerateProcess StartInTerminal(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(ScriptCommand ?? throw new InvalidOperationException("util-linux `script` is not installed."));
        start.ArgumentList.Add("-qefc");
        start.ArgumentList.Add(string.Join(' ', new[] { "dotnet", Dll }.Concat(args).Select(a => "'" + a.Replace("'", "'\\''") + "'")));
        start.ArgumentList.Add("/dev/null");
        return new AccelerateProcess(start, new Dictionary<string, string>(environment) { ["TERM"] = "xterm", ["COLUMNS"] = "200", ["LINES"] = "50" });
    }

    public string Output { get { lock (output) return output.ToString(); } }

    public string Error { get { lock (error) return error.ToString(); } }

    /// <summary>Waits until the output holds <paramref name="text"/> after position <paramref name="from"/>; returns the position after it.</summary>
    public int WaitFor(string text, int from = 0)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var seen = Output;
            var at = seen.IndexOf(text, Math.Min(from, seen.Length), StringComparison.Ordinal);
            if (at >= 0) return at + text.Length;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || (process.HasExited && pumps.IsCompleted && !arrived.Wait(0)))
                throw new AssertFailedException($"'{text}' did not appear. Output so far:\n{seen}\nErrors:\n{Error}");
            arrived.Wait(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
        }
    }

    public void Send(string keys)
    {
        process.StandardInput.Write(keys);
        process.StandardInput.Flush();
    }

    public int WaitForExit()
    {
        if (!process.WaitForExit(Timeout))
            throw new AssertFailedException($"accelerate did not exit within {Timeout}. Output:\n{Output}\nErrors:\n{Error}");
        pumps.Wait(Timeout);
        return process.ExitCode;
    }

    public void Dispose()
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        process.Dispose();
    }

    private async Task Pump(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (into) into.Append(buffer, 0, read);
            arrived.Release();
        }
        arrived.Release();
    }
}
