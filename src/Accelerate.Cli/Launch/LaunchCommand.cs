using System.Security.Cryptography;

namespace Accelerate.Cli.Launch;

/// <summary><c>accelerate launch [options] &lt;program&gt; [args]</c>: starts the program as N ranks on this machine, or as this machine's share of a multi-machine job.</summary>
internal static class LaunchCommand
{
    /// <summary>Runs the command; returns the launcher's exit code.</summary>
    public static int Run(string[] args)
    {
        try
        {
            var parsed = LaunchArguments.Parse(args);
            if (parsed.HelpRequested)
            {
                Console.Out.Write(LaunchOptionCatalog.Help());
                return 0;
            }
            var config = LaunchConfigSource.Load(parsed.Get("config_file"), parsed.Get("cpu") == "true", Environment.GetEnvironmentVariable);
            var plan = LaunchPlanResolver.Resolve(parsed, config, Environment.GetEnvironmentVariable, GpuCount(), Environment.ProcessorCount);
            var console = new LauncherConsole(plan.Quiet);
            if (plan.PrintConfigOnly)
            {
                Console.Out.WriteLine(SettingsTable.Format(plan.Settings));
                return 0;
            }
            plan = SchedulerSettings.WithReachableSlurmHost(plan, console);
            if (plan.Debug) console.Info("effective settings:\n" + SettingsTable.Format(plan.Settings));
            if (plan.DefaultsMessage is { } defaults) console.Info(defaults);
            foreach (var note in plan.Notes) console.Info(note);

            var program = ProgramCommand.Resolve(plan.Program, plan.NoPython, console);
            if (plan.MpirunHostfile is not null)
                return MpirunLaunch.Run(plan, program, SingleMachineJob(plan), console);
            // c10d: each round of the rendezvous (a new one when a machine left or one waits to join) runs until the job ends.
            RendezvousLobby? lobby = null;
            try
            {
                for (int attempt = 0, returning = 0; ; )
                {
                    var (job, link, machineRank, machines) = plan.NumMachines == 1 ? (SingleMachineJob(plan), null, 0, 1)
                        : MachineRendezvous.Meet(plan, Secret(), console, ref lobby, returning);
                    // c10d gives out machine ranks at the rendezvous, and with --nnodes MIN:MAX the job runs on the machines that joined.
                    var round = plan with { MachineRank = machineRank, NumMachines = machines, NumProcesses = plan.LocalProcesses * machines };
                    using (link)
                    {
                        var agent = new LocalAgent(round, program, job, link, console, attempt, lobby);
                        var exitCode = agent.Run();
                        if (exitCode != LocalAgent.Rejoin)
                        {
                            lobby?.Close();
                            return exitCode;
                        }
                        attempt = agent.NextAttempt;
                        returning = agent.ExpectedBack;
                    }
                }
            }
            finally
            {
                lobby?.Dispose();
            }
        }
        catch (LaunchException e)
        {
            // Config file errors already read "path:line:column: error CODE: ..."; others get their code here.
            Console.Error.WriteLine("accelerate launch: " + (e.Message.Contains(e.Code, StringComparison.Ordinal) ? e.Message : $"error {e.Code}: {e.Message}"));
            return e.ExitCode;
        }
    }

    private static JobIdentity SingleMachineJob(LaunchPlan plan)
    {
        var port = plan.MainProcessPort;
        if (port == 0) port = PortProbe.FreePort();
        else PortProbe.EnsureFree(port, "--main_process_port");
        return new JobIdentity(plan.RunId ?? NewRunId(), Secret() ?? NewSecret(), port);
    }

    /// <summary>ACCELERATE_LAUNCH_SECRET from the environment, checked, or null when unset.</summary>
    private static string? Secret()
    {
        var secret = Environment.GetEnvironmentVariable("ACCELERATE_LAUNCH_SECRET");
        if (string.IsNullOrEmpty(secret)) return null;
        if (secret.Length != 64 || !secret.All(Uri.IsHexDigit))
            throw new LaunchException("ACC3011", "ACCELERATE_LAUNCH_SECRET must be 64 hex characters (e.g. from `openssl rand -hex 32`), or unset so the launcher makes one.");
        return secret.ToLowerInvariant();
    }

    /// <summary>A new per-launch secret: 32 random bytes as 64 hex characters.</summary>
    public static string NewSecret() => Convert.ToHexStringLower(RandomBytes(32));

    /// <summary>A new job id.</summary>
    public static string NewRunId() => Convert.ToHexStringLower(RandomBytes(6));

    /// <summary>
    /// Bytes from the kernel's CSPRNG. Reading /dev/urandom directly spares every launch the ~10 ms of loading
    /// OpenSSL that <see cref="RandomNumberGenerator"/> costs on Linux.
    /// </summary>
    private static byte[] RandomBytes(int count)
    {
        if (!OperatingSystem.IsLinux()) return RandomNumberGenerator.GetBytes(count);
        var bytes = new byte[count];
        using var urandom = File.OpenRead("/dev/urandom");
        urandom.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>GPUs on this machine, from the NVIDIA driver's device nodes (no GPU library needed).</summary>
    private static int GpuCount()
    {
        try
        {
            return Directory.EnumerateFiles("/dev", "nvidia*").Count(f => Path.GetFileName(f)[6..].All(char.IsAsciiDigit) && Path.GetFileName(f).Length > 6);
        }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }
}
