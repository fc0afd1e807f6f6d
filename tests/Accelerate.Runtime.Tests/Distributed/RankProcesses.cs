using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// Starts the ranks of one job as real CollectivesWorker processes with the launch-contract
/// environment, collects their output, and kills whatever is still running when disposed.
/// </summary>
internal sealed class RankProcesses : IDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly List<Rank> _ranks = [];

    public static string WorkerPath => typeof(RankProcesses).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "CollectivesWorker").Value!;

    public static string NewSecret() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant();

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Environment for rank <paramref name="rank"/> of <paramref name="worldSize"/> meeting at <paramref name="port"/>.</summary>
    public static Dictionary<string, string?> Contract(int rank, int worldSize, int port, string secret, string masterAddress = "127.0.0.1") => new()
    {
        ["RANK"] = rank.ToString(),
        ["LOCAL_RANK"] = rank.ToString(),
        ["WORLD_SIZE"] = worldSize.ToString(),
        ["LOCAL_WORLD_SIZE"] = worldSize.ToString(),
        ["MASTER_ADDR"] = masterAddress,
        ["MASTER_PORT"] = port.ToString(),
        ["ACCELERATE_LAUNCH_SECRET"] = secret,
        ["ACCELERATE_RDZV_TIMEOUT"] = "60",
        ["OMP_NUM_THREADS"] = "1",
    };

    /// <summary>
    /// Starts every rank of a job on this host running <paramref name="scenario"/>; <paramref name="prefix"/> gives a
    /// command to run a rank's worker inside (e.g. nsenter), or null.
    /// </summary>
    public static RankProcesses StartJob(int worldSize, string scenario, Action<int, Dictionary<string, string?>>? adjust = null,
        Func<int, string[]?>? prefix = null, RankProcesses? into = null)
    {
        var port = FreePort();
        var secret = NewSecret();
        var job = into ?? new RankProcesses();
        for (var rank = 0; rank < worldSize; rank++)
        {
            var environment = Contract(rank, worldSize, port, secret);
            adjust?.Invoke(rank, environment);
            job.Start(environment, [.. prefix?.Invoke(rank) ?? [], "dotnet", WorkerPath, .. scenario.Split(' ')]);
        }
        return job;
    }

    /// <summary>Starts one process with <paramref name="environment"/> added to this one's.</summary>
    public Rank Start(Dictionary<string, string?> environment, string[] command)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1)) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var rank = new Rank(Process.Start(start)!);
        _ranks.Add(rank);
        return rank;
    }

    public IReadOnlyList<Rank> Ranks => _ranks;

    /// <summary>Waits for every rank to exit, or fails the test naming the ones still running.</summary>
    public void WaitForAll(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Patience);
        foreach (var rank in _ranks)
            if (!rank.WaitForExit(deadline - DateTime.UtcNow))
                Assert.Fail($"A rank was still running after {(timeout ?? Patience).TotalSeconds} s. Output so far:\n{Describe()}");
    }

    public string Describe() => string.Join("\n", _ranks.Select((r, i) => $"--- process {i} (exit {(r.Process.HasExited ? r.Process.ExitCode.ToString() : "running")})\n{r.Output}"));

    public void Dispose()
    {
        foreach (var rank in _ranks) rank.Dispose();
    }

    /// <summary>One started process and everything it printed.</summary>
    internal sealed class Rank : IDisposable
    {
        private readonly StringBuilder _output = new();
        private readonly BlockingCollection<string> _lines = new();

        public Rank(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => Add(e.Data, "");
            process.ErrorDataReceived += (_, e) => Add(e.Data, "[stderr] ");
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output
        {
            get
            {
                lock (_output) return _output.ToString();
            }
        }

        private void Add(string? line, string prefix)
        {
            if (line is null) return;
            lock (_output) _output.AppendLine(prefix + line);
            _lines.Add(line);
        }

        /// <summary>Waits until the process prints a line containing <paramref name="text"/>.</summary>
        public void WaitForLine(string text, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (_lines.TryTake(out var line, deadline - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero))
                if (line.Contains(text, StringComparison.Ordinal)) return;
            Assert.Fail($"No line containing '{text}' within {timeout.TotalSeconds} s. Output:\n{Output}");
        }

        public bool WaitForExit(TimeSpan timeout)
        {
            if (!Process.WaitForExit(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout)) return false;
            Process.WaitForExit(); // drain the output readers
            return true;
        }

        public void Dispose()
        {
            try
            {
                if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }
            Process.Dispose();
        }
    }
}
