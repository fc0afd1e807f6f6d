using System.Diagnostics;

namespace Accelerate.Cli.Launch;

/// <summary>
/// HF accelerate's MULTI_CPU launch with <c>mpirun_hostfile</c>: the ranks are started by <c>mpirun --hostfile FILE -np N</c>
/// (Open MPI), or <c>mpiexec -f FILE -n N</c> where MPICH is what is installed, and find their place from the MPI
/// launcher's variables (<c>OMPI_COMM_WORLD_*</c>, <c>PMI_*</c>). The launcher passes the job-wide settings on and
/// returns mpirun's exit code.
/// </summary>
internal static class MpirunLaunch
{
    /// <summary>Job-wide variables of the launch contract; per-rank ones (RANK, LOCAL_RANK, ...) come from MPI instead.</summary>
    private static readonly string[] JobWide =
    [
        LaunchVariables.MasterAddress, LaunchVariables.MasterPort, LaunchVariables.OmpNumThreads, LaunchVariables.MixedPrecision,
        LaunchVariables.UseCpu, LaunchVariables.GradientAccumulationSteps, LaunchVariables.LaunchSecret, LaunchVariables.RendezvousTimeout,
        LaunchVariables.DebugMode, LaunchVariables.CudaVisibleDevices, LaunchVariables.MainTrainingFunction,
    ];

    /// <summary>Runs the job through mpirun; returns its exit code.</summary>
    public static int Run(LaunchPlan plan, ProgramCommand program, JobIdentity job, LauncherConsole console)
    {
        var hostfile = plan.MpirunHostfile!;
        if (!File.Exists(hostfile))
            throw new LaunchException(LaunchErrorCode.MpirunHostfile, $"mpirun hostfile '{hostfile}' not found: give an existing file (lines like 'node1 slots=4') with --mpirun_hostfile or mpirun_config.mpirun_hostfile.");
        var hosts = File.ReadLines(hostfile).Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0).Select(l => l.Split(' ', '\t')[0]).Distinct().Count();
        if (hosts > 1 && plan.Settings.Single(s => s.Name == "main_process_ip").Origin == SettingOrigin.Default)
            throw new LaunchException(LaunchErrorCode.MainProcessIp, $"mpirun hostfile '{hostfile}' names {hosts} hosts: give --main_process_ip, the address of the first rank's host that every host can reach.");
        var (mpi, openMpi) = FindMpirun();
        var variables = RankEnvironment.For(plan, job, 0, 0, "", "").Where(v => JobWide.Contains(v.Key)).ToList();

        var start = new ProcessStartInfo(mpi) { UseShellExecute = false };
        string[] placement = openMpi ? ["--hostfile", Path.GetFullPath(hostfile), "-np", LaunchValues.Format(plan.NumProcesses)]
            : ["-f", Path.GetFullPath(hostfile), "-n", LaunchValues.Format(plan.NumProcesses)];
        foreach (var arg in placement) start.ArgumentList.Add(arg);
        foreach (var (name, value) in variables)
        {
            start.Environment[name] = value;
            // Open MPI passes only the variables named with -x to remote ranks (by name: the secret stays off the command line); MPICH passes all.
            if (openMpi) { start.ArgumentList.Add("-x"); start.ArgumentList.Add(name); }
        }
        start.ArgumentList.Add(program.FileName);
        foreach (var arg in program.Arguments.Concat(plan.ProgramArguments)) start.ArgumentList.Add(arg);

        console.Info($"starting {plan.NumProcesses} rank(s) through {Path.GetFileName(mpi)} with hostfile {hostfile}");
        using var process = Process.Start(start)
            ?? throw new LaunchException(LaunchErrorCode.MpirunMissing, $"{mpi} could not be started.");
        process.WaitForExit();
        if (process.ExitCode != 0)
            console.Error($"{Path.GetFileName(mpi)} ended with exit code {process.ExitCode}: a rank failed or could not be placed (see its output above).");
        return process.ExitCode;
    }

    /// <summary>Open MPI's mpirun, else MPICH's mpiexec, from PATH.</summary>
    private static (string Path, bool OpenMpi) FindMpirun()
    {
        var mpirun = OnPath("mpirun");
        if (mpirun is not null && IsOpenMpi(mpirun)) return (mpirun, true);
        var mpiexec = OnPath("mpiexec") ?? mpirun;
        return mpiexec is not null ? (mpiexec, false)
            : throw new LaunchException(LaunchErrorCode.MpirunMissing, "mpirun_hostfile is set, but neither mpirun nor mpiexec is on PATH: install Open MPI (apt-get install openmpi-bin) or MPICH, or drop the hostfile to start the ranks on this machine.");
    }

    private static bool IsOpenMpi(string mpirun)
    {
        var start = new ProcessStartInfo(mpirun, "--version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start);
        if (process is null) return false;
        var text = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return text.Contains("Open MPI", StringComparison.Ordinal) || text.Contains("OpenRTE", StringComparison.Ordinal);
    }

    private static string? OnPath(string name) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
