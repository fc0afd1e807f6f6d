using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using Accelerate.Runtime.Tests.Distributed;

namespace Accelerate.Runtime.Tests.Slurm;

/// <summary>
/// A real SLURM cluster on this machine (Debian's slurmctld, slurmd and munge) with its own configuration
/// (<c>SLURM_CONF</c>), state, spool, logs, ports and munge socket and key, all in one temporary folder.
/// One node (this machine, <see cref="Shared"/>) or two (<see cref="SharedTwoNodes"/>): one slurmd per network
/// namespace, each node at its namespace's address (<c>NodeAddr</c>) under a name that resolves nowhere, with its own
/// spool, pid and log file (<c>%n</c> in slurm.conf); slurmctld and the commands run on the host side of a bridge.
/// Started once per test run and stopped by <see cref="SlurmClusterLifetime"/>; stopping cancels every job, leaves
/// no process of its own behind and removes the namespaces.
/// </summary>
[UnsupportedOSPlatform("windows")]
internal sealed class SlurmCluster : IDisposable
{
    private static readonly string[] Programs = ["munged", "slurmctld", "slurmd", "srun", "sbatch", "sinfo", "squeue", "scancel", "scontrol", "nsenter", "ip"];
    private static readonly TimeSpan StartPatience = TimeSpan.FromSeconds(60);
    private static readonly object Gate = new();
    private static Lazy<SlurmCluster>? _shared;
    private static Lazy<SlurmCluster>? _sharedTwoNodes;

    private readonly RankProcesses _daemons = new();
    private readonly NetworkNamespaces? _network;

    private SlurmCluster(string directory, IReadOnlyList<string> nodeNames, NetworkNamespaces? network, int cpus, long firstJobId)
    {
        Directory = directory;
        NodeNames = nodeNames;
        _network = network;
        Cpus = cpus;
        FirstJobId = firstJobId;
    }

    /// <summary>The cluster every SLURM test of this run shares; started by the first one that asks.</summary>
    public static SlurmCluster Shared
    {
        get
        {
            lock (Gate) _shared ??= new Lazy<SlurmCluster>(Start, LazyThreadSafetyMode.ExecutionAndPublication);
            return _shared.Value;
        }
    }

    /// <summary>The two-node cluster the SLURM tests of this run share; started by the first one that asks.</summary>
    public static SlurmCluster SharedTwoNodes
    {
        get
        {
            lock (Gate) _sharedTwoNodes ??= new Lazy<SlurmCluster>(StartTwoNodes, LazyThreadSafetyMode.ExecutionAndPublication);
            return _sharedTwoNodes.Value;
        }
    }

    /// <summary>Stops the shared clusters that tests started.</summary>
    public static void StopShared()
    {
        lock (Gate)
        {
            try
            {
                if (_shared is { IsValueCreated: true }) _shared.Value.Dispose();
            }
            finally
            {
                _shared = null;
                if (_sharedTwoNodes is { IsValueCreated: true }) _sharedTwoNodes.Value.Dispose();
                _sharedTwoNodes = null;
            }
        }
    }

    /// <summary>The folder holding the configuration, state, spool, logs and munge files.</summary>
    public string Directory { get; }

    public string ConfigFile => Path.Combine(Directory, "slurm.conf");

    /// <summary>The nodes: this machine's host name, or with two nodes names that resolve nowhere.</summary>
    public IReadOnlyList<string> NodeNames { get; }

    /// <summary>The first node, where rank 0 runs.</summary>
    public string NodeName => NodeNames[0];

    /// <summary>Each node's NodeAddr: loopback for the one node, the namespaces' addresses for two.</summary>
    public IReadOnlyList<string> NodeAddresses => _network?.Addresses ?? ["127.0.0.1"];

    /// <summary>CPUs the node offers: more than the machine has, so that srun -n4 runs on 2 cores.</summary>
    public int Cpus { get; }

    /// <summary>The first job's id, chosen so that the port srun's ranks derive from it (15000 + last four digits) is free.</summary>
    public long FirstJobId { get; }

    /// <summary>Fails (under CI) or skips the test when the SLURM or munge programs are missing.</summary>
    public static void RequireInstalled()
    {
        var missing = Programs.Where(p => Which(p) is null).ToList();
        if (missing.Count == 0) return;
        Skip($"SLURM is not installed (missing {string.Join(", ", missing)}); eng/install-prerequisites.sh installs slurmctld, slurmd, slurm-client, munge, iproute2 and util-linux.");
    }

    private static void Skip(string message)
    {
        if (System.Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(message);
        Assert.Inconclusive(message);
    }

    /// <summary>Starts munged, slurmctld and slurmd, and waits until the node is idle.</summary>
    public static SlurmCluster Start()
    {
        RequireInstalled();
        // srun's ranks meet at the node's name (the node list's first host), as on a real cluster.
        var host = Dns.GetHostName();
        try
        {
            Dns.GetHostAddresses(host);
        }
        catch (SocketException e)
        {
            Assert.Fail($"This machine's host name '{host}' does not resolve ({e.Message}); add it to /etc/hosts (127.0.0.1 {host}) to run the SLURM tests.");
        }
        return Start([host], null);
    }

    /// <summary>
    /// Starts a cluster of two nodes, each a network namespace with its own slurmd, and waits until both are idle.
    /// The nodes' names resolve nowhere: SLURM reaches them at their NodeAddr, and so must the ranks.
    /// </summary>
    public static SlurmCluster StartTwoNodes()
    {
        RequireInstalled();
        var network = NetworkNamespaces.TryCreate(2, out var reason, reachableHost: true);
        if (network is null) Skip(reason);
        // A name per cluster, so that no earlier cluster's node (or anything else) answers to it.
        var prefix = $"accnode{System.Environment.ProcessId % 100000}x";
        try
        {
            return Start([prefix + "0", prefix + "1"], network);
        }
        catch
        {
            network!.Dispose();
            throw;
        }
    }

    private static SlurmCluster Start(IReadOnlyList<string> nodes, NetworkNamespaces? network)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("accelerate-slurm-").FullName;
        File.SetUnixFileMode(directory, (UnixFileMode)Convert.ToInt32("755", 8));
        var cluster = new SlurmCluster(directory, nodes, network, Math.Max(8, System.Environment.ProcessorCount + 6), ChooseFirstJobId());
        try
        {
            cluster.StartDaemons();
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>The environment that points SLURM's commands (and the ranks they start) at this cluster.</summary>
    public Dictionary<string, string?> Environment(Dictionary<string, string?>? extra = null)
    {
        var environment = new Dictionary<string, string?>
        {
            ["SLURM_CONF"] = ConfigFile,
            ["OMP_NUM_THREADS"] = "1",
            // Ranks must find their place from SLURM's variables alone.
            ["MASTER_ADDR"] = null,
            ["MASTER_PORT"] = null,
            ["RANK"] = null,
            ["WORLD_SIZE"] = null,
            ["ACCELERATE_LAUNCH_SECRET"] = null,
        };
        foreach (var (name, value) in extra ?? []) environment[name] = value;
        return environment;
    }

    /// <summary>Runs a SLURM command (srun, sbatch, scontrol...) against this cluster and returns its exit code and output.</summary>
    public (int ExitCode, string Output) Run(TimeSpan timeout, params string[] command) => Run(timeout, null, command);

    public (int ExitCode, string Output) Run(TimeSpan timeout, Dictionary<string, string?>? environment, params string[] command)
    {
        using var processes = new RankProcesses();
        var process = processes.Start(Environment(environment), command);
        if (!process.WaitForExit(timeout))
            Assert.Fail($"`{string.Join(' ', command)}` was still running after {timeout.TotalSeconds} s. Output so far:\n{process.Output}\n{Logs()}");
        return (process.Process.ExitCode, process.Output);
    }

    /// <summary>The tail of the daemons' log files, for failure messages.</summary>
    public string Logs() => string.Join("\n", new[] { "slurmctld.log", "munged.log" }.Concat(NodeNames.Select(n => $"slurmd-{n}.log"))
        .Select(name => Path.Combine(Directory, "log", name))
        .Where(File.Exists)
        .Select(path => $"--- {Path.GetFileName(path)}\n" + string.Join("\n", File.ReadLines(path).TakeLast(15))));

    /// <summary>Processes started for this cluster that are still alive: daemons, step daemons and tasks all carry its folder.</summary>
    public IReadOnlyList<string> Leftovers()
    {
        var own = System.Environment.ProcessId;
        var found = new List<string>();
        foreach (var entry in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid) || pid == own) continue;
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ');
                var environment = File.ReadAllText(Path.Combine(entry, "environ"));
                if (commandLine.Contains(Directory, StringComparison.Ordinal) || environment.Contains("SLURM_CONF=" + ConfigFile + "\0", StringComparison.Ordinal))
                    found.Add($"{pid} {commandLine.Trim()}");
            }
            catch (IOException)
            {
                // Exited while being read.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to read, so not started by this cluster.
            }
        }
        return found;
    }

    /// <summary>Cancels every job, stops the daemons, and fails if any process of this cluster had to be killed.</summary>
    public void Dispose()
    {
        try
        {
            if (File.Exists(ConfigFile) && _daemons.Ranks.Any(d => !d.Process.HasExited))
            {
                Run(TimeSpan.FromSeconds(30), "scancel", "--full", "--quiet", "--partition=debug");
                Poll(TimeSpan.FromSeconds(30), () => Run(TimeSpan.FromSeconds(30), "squeue", "-h", "-o", "%i").Output.Trim().Length == 0);
            }
            // slurmd first, so that it does not start anything for a controller that is going away; munged last, since both use it.
            foreach (var daemon in _daemons.Ranks.Reverse().Where(d => !d.Process.HasExited))
            {
                _ = Terminate(daemon.Process.Id, 15); // SIGTERM: the daemons shut down their own children
                if (!daemon.WaitForExit(TimeSpan.FromSeconds(15))) daemon.Process.Kill(entireProcessTree: true);
            }
            _daemons.Dispose();
            // Step daemons and tasks end shortly after the daemons that ran them.
            var leftovers = Leftovers();
            Poll(TimeSpan.FromSeconds(10), () => (leftovers = Leftovers()).Count == 0);
            foreach (var leftover in leftovers)
            {
                try
                {
                    System.Diagnostics.Process.GetProcessById(int.Parse(leftover.Split(' ')[0])).Kill();
                }
                catch (ArgumentException)
                {
                    // Exited meanwhile.
                }
            }
            if (leftovers.Count > 0)
                throw new InvalidOperationException("Stopping the SLURM cluster left processes running (now killed):\n" + string.Join("\n", leftovers));
        }
        finally
        {
            _daemons.Dispose();
            _network?.Dispose();
            if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private void StartDaemons()
    {
        var munge = Path.Combine(Directory, "munge");
        foreach (var folder in new[] { "munge", "state", "log" }.Concat(NodeNames.Select(n => Path.Combine("spool", n))))
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, folder));
        // munged insists on a private key and lets clients reach the socket only through an executable folder.
        File.SetUnixFileMode(munge, (UnixFileMode)Convert.ToInt32("711", 8));
        var key = Path.Combine(munge, "munge.key");
        File.WriteAllBytes(key, RandomNumberGenerator.GetBytes(1024));
        File.SetUnixFileMode(key, UnixFileMode.UserRead);
        var socket = Path.Combine(munge, "munge.socket");
        _daemons.Start(Environment(), [Which("munged")!, "--foreground", "--force", "--socket=" + socket, "--key-file=" + key,
            "--log-file=" + Path.Combine(Directory, "log", "munged.log"), "--pid-file=" + Path.Combine(munge, "munged.pid"),
            "--seed-file=" + Path.Combine(munge, "munged.seed")]);
        Poll(StartPatience, () => File.Exists(socket) || _daemons.Ranks[0].Process.HasExited);
        if (_daemons.Ranks[0].Process.HasExited) Assert.Fail("munged did not start:\n" + _daemons.Describe());

        File.WriteAllText(ConfigFile, Configuration(socket));
        _daemons.Start(Environment(), [Which("slurmctld")!, "-D"]);
        // Each slurmd in its node's namespace (one shared file system: each has its own spool, pid and log file by %n).
        for (var node = 0; node < NodeNames.Count; node++)
            _daemons.Start(Environment(), [.. _network?.Enter(node) ?? [], Which("slurmd")!, "-D", "-N", NodeNames[node]]);
        var idle = $"{string.Join(",", NodeNames.Select(n => n + " idle"))}";
        var state = "";
        var ready = Poll(StartPatience, () =>
        {
            if (_daemons.Ranks.Any(d => d.Process.HasExited)) return true;
            var nodes = Run(TimeSpan.FromSeconds(30), "sinfo", "-h", "-N", "-o", "%N %t").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            state = string.Join(",", nodes.Order(StringComparer.Ordinal));
            return state == idle;
        });
        if (!ready || state != idle)
            Assert.Fail($"The SLURM nodes did not become idle within {StartPatience.TotalSeconds} s (last states '{state}'):\n{_daemons.Describe()}\n{Logs()}");
    }

    private string Configuration(string mungeSocket)
    {
        var log = Path.Combine(Directory, "log");
        return $"""
            ClusterName=accelerate
            SlurmctldHost={Dns.GetHostName()}({_network?.HostAddress ?? "127.0.0.1"})
            SlurmctldPort={RankProcesses.FreePort()}
            SlurmdPort={RankProcesses.FreePort()}
            SlurmUser=root
            SlurmdUser=root
            AuthType=auth/munge
            CredType=cred/munge
            # cred_expire is also how long a requeued job waits before it runs again (120 s by default).
            AuthInfo=socket={mungeSocket},cred_expire=20
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            MpiDefault=none
            SwitchType=switch/none
            StateSaveLocation={Path.Combine(Directory, "state")}
            SlurmdSpoolDir={Path.Combine(Directory, "spool", "%n")}
            SlurmctldPidFile={Path.Combine(Directory, "slurmctld.pid")}
            SlurmdPidFile={Path.Combine(Directory, "slurmd-%n.pid")}
            SlurmctldLogFile={Path.Combine(log, "slurmctld.log")}
            SlurmdLogFile={Path.Combine(log, "slurmd-%n.log")}
            # The node claims more CPUs than the machine has, so that several ranks fit on 2 cores.
            SlurmdParameters=config_overrides
            ReturnToService=2
            KillWait=5
            FirstJobId={FirstJobId}
            {string.Join("\n", NodeNames.Select((node, i) => $"NodeName={node} NodeAddr={NodeAddresses[i]} CPUs={Cpus} State=UNKNOWN"))}
            PartitionName=debug Nodes={string.Join(",", NodeNames)} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES

            """;
    }

    /// <summary>A job id whose derived rendezvous port (15000 + last four digits), and the next few, are free now.</summary>
    private static long ChooseFirstJobId()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var digits = Random.Shared.Next(0, 9990);
            if (Enumerable.Range(15000 + digits, 10).All(IsFree)) return 10000 + digits;
        }
        return 10000;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var probe = new TcpListener(IPAddress.Any, port);
            probe.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static bool Poll(TimeSpan patience, Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + patience;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(100);
        }
        return condition();
    }

    private static string? Which(string program) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin"])
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Terminate(int pid, int signal);
}
