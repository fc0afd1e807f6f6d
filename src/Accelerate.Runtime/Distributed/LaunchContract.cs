using System.Globalization;
using System.Text.RegularExpressions;
using Accelerate.Configuration.Slurm;

namespace Accelerate.Distributed;

/// <summary>
/// Reads the environment variables a launcher sets (docs/launch-contract.md) into a
/// <see cref="DistributedEnvironment"/>. Besides <c>accelerate launch</c> and torchrun
/// (<c>RANK</c>, <c>WORLD_SIZE</c>, ...), it understands ranks started by Open MPI's
/// <c>mpirun</c> (<c>OMPI_COMM_WORLD_*</c>), MPICH/Intel MPI (<c>PMI_*</c>), SLURM's
/// <c>srun</c> (<c>SLURM_*</c>) and a Kubernetes PyTorchJob (<c>RANK</c>, <c>WORLD_SIZE</c>,
/// <c>MASTER_ADDR</c>, <c>MASTER_PORT</c> only).
/// </summary>
public static partial class LaunchContract
{
    /// <summary>The port ranks meet at when nothing names one (torch's default).</summary>
    public const int DefaultMasterPort = 29500;

    /// <summary>Reads this process's environment.</summary>
    public static DistributedEnvironment Read() => Read(name => System.Environment.GetEnvironmentVariable(name));

    /// <summary>Reads an environment given as a lookup, for tests and for launchers that prepare one.</summary>
    public static DistributedEnvironment Read(Func<string, string?> variables)
    {
        if (Int(variables, LaunchVariables.WorldSize) is { } worldSize && Int(variables, LaunchVariables.Rank) is { } rank)
            return FromTorchContract(variables, rank, worldSize);
        if (Int(variables, "OMPI_COMM_WORLD_SIZE") is { } ompiSize && Int(variables, "OMPI_COMM_WORLD_RANK") is { } ompiRank)
            return FromMpi(variables, ompiRank, ompiSize, Int(variables, "OMPI_COMM_WORLD_LOCAL_RANK"), Int(variables, "OMPI_COMM_WORLD_LOCAL_SIZE"), "mpirun");
        if (Int(variables, "PMI_SIZE") is { } pmiSize && Int(variables, "PMI_RANK") is { } pmiRank)
            return FromMpi(variables, pmiRank, pmiSize, Int(variables, "MPI_LOCALRANKID"), Int(variables, "MPI_LOCALNRANKS"), "mpiexec");
        if (Int(variables, "SLURM_NTASKS") is { } tasks && Int(variables, "SLURM_PROCID") is { } procId)
            return IsSrunTask(variables) ? FromSlurm(variables, procId, tasks) : FromSlurmBatchScript(variables, tasks);
        return DistributedEnvironment.SingleProcess;
    }

    /// <summary>
    /// Tasks of a job step (started by srun) have a step id; sbatch's script (the batch step) has none, yet it sees
    /// the job's <c>SLURM_NTASKS</c> and <c>SLURM_PROCID=0</c>.
    /// </summary>
    private static bool IsSrunTask(Func<string, string?> variables) =>
        !string.IsNullOrEmpty(variables("SLURM_STEP_ID")) || !string.IsNullOrEmpty(variables("SLURM_STEPID"));

    private static int _batchScriptNoted;

    private static DistributedEnvironment FromSlurmBatchScript(Func<string, string?> variables, int tasks)
    {
        // Nothing starts the other ranks, so waiting for them would only end in a rendezvous timeout.
        if (tasks > 1 && Interlocked.Exchange(ref _batchScriptNoted, 1) == 0)
            Console.Error.WriteLine($"accelerate: {RuntimeErrorCode.SlurmBatchScript}: this process runs in the batch script of SLURM job {variables("SLURM_JOB_ID")} (SLURM_NTASKS={tasks}, no SLURM_STEP_ID), " +
                $"not as a task started by srun, so it runs alone as rank 0 of 1. To run {tasks} ranks, start the program with srun in the script (docs/clusters.md).");
        return DistributedEnvironment.SingleProcess;
    }

    private static DistributedEnvironment FromTorchContract(Func<string, string?> variables, int rank, int worldSize)
    {
        var launcher = variables(LaunchVariables.RunId) is null
            ? variables("KUBERNETES_SERVICE_HOST") is null ? "env" : "kubernetes"
            : variables(LaunchVariables.LaunchSecret) is null ? "torchrun" : "accelerate";
        // A PyTorchJob runs one process per pod; otherwise, without more detail, all ranks share one machine.
        var onePerMachine = launcher == "kubernetes" && variables(LaunchVariables.LocalRank) is null;
        var localWorldSize = Int(variables, LaunchVariables.LocalWorldSize) ?? (onePerMachine ? 1 : worldSize);
        return Validate(new DistributedEnvironment(
            rank,
            Int(variables, LaunchVariables.LocalRank) ?? (onePerMachine ? 0 : rank),
            worldSize,
            localWorldSize,
            Int(variables, LaunchVariables.GroupRank) ?? (onePerMachine ? rank : 0),
            Int(variables, LaunchVariables.GroupWorldSize) ?? (onePerMachine ? worldSize : 1),
            variables(LaunchVariables.MasterAddress) ?? "127.0.0.1",
            Int(variables, LaunchVariables.MasterPort) ?? DefaultMasterPort,
            variables(LaunchVariables.LaunchSecret),
            launcher), LaunchVariables.Rank, LaunchVariables.WorldSize);
    }

    private static DistributedEnvironment FromMpi(Func<string, string?> variables, int rank, int size, int? localRank, int? localSize, string launcher)
    {
        var perNode = localSize ?? size;
        return Validate(new DistributedEnvironment(
            rank,
            localRank ?? rank % perNode,
            size,
            perNode,
            rank / Math.Max(1, perNode),
            Math.Max(1, (size + perNode - 1) / Math.Max(1, perNode)),
            // All ranks on one machine meet on loopback; across machines MASTER_ADDR must name rank 0's host (mpirun -x MASTER_ADDR=...).
            variables(LaunchVariables.MasterAddress) ?? (perNode >= size ? "127.0.0.1" : ""),
            Int(variables, LaunchVariables.MasterPort) ?? DefaultMasterPort,
            variables(LaunchVariables.LaunchSecret),
            launcher), launcher == "mpirun" ? "OMPI_COMM_WORLD_RANK" : "PMI_RANK", launcher == "mpirun" ? "OMPI_COMM_WORLD_SIZE" : "PMI_SIZE");
    }

    private static DistributedEnvironment FromSlurm(Func<string, string?> variables, int rank, int tasks)
    {
        var nodes = Int(variables, "SLURM_NNODES") ?? Int(variables, "SLURM_JOB_NUM_NODES") ?? 1;
        // The step's own count on this node: a step may run fewer tasks than the job's SLURM_NTASKS_PER_NODE, and nodes may differ (2(x3),1).
        var perNode = TasksOnNode(variables, "SLURM_STEP_TASKS_PER_NODE") ?? TasksOnNode(variables, "SLURM_TASKS_PER_NODE")
            ?? FirstCount(variables("SLURM_NTASKS_PER_NODE")) ?? Math.Max(1, tasks / Math.Max(1, nodes));
        var master = variables(LaunchVariables.MasterAddress) ?? FirstSlurmHost(variables) ?? "127.0.0.1";
        // Lightning's convention, so that jobs sharing a node do not collide: 15000 + the job id's last four digits.
        var jobId = Int(variables, "SLURM_JOB_ID");
        var port = Int(variables, LaunchVariables.MasterPort) ?? (jobId is { } id ? 15000 + id % 10000 : DefaultMasterPort);
        return Validate(new DistributedEnvironment(
            rank,
            Int(variables, "SLURM_LOCALID") ?? rank % perNode,
            tasks,
            perNode,
            Int(variables, "SLURM_NODEID") ?? rank / perNode,
            nodes,
            master,
            port,
            variables(LaunchVariables.LaunchSecret),
            "srun"), "SLURM_PROCID", "SLURM_NTASKS");
    }

    /// <summary>The first host of the job's node list (<c>gpu[03-05,9],cpu1</c> → <c>gpu03</c>), where rank 0 runs under srun.</summary>
    private static string? FirstSlurmHost(Func<string, string?> variables)
    {
        var name = variables("SLURM_JOB_NODELIST") is null ? "SLURM_NODELIST" : "SLURM_JOB_NODELIST";
        var list = variables(name);
        if (list is null) return null;
        try
        {
            return SlurmHostList.First(list);
        }
        catch (FormatException e)
        {
            throw new AccelerateException(RuntimeErrorCode.BadSlurmNodeList, $"{name}: {e.Message} Set MASTER_ADDR to rank 0's host to skip reading the node list.");
        }
    }

    /// <summary>This node's (<c>SLURM_NODEID</c>) entry of a SLURM per-node list: <c>2(x3),1</c> is 2, 2, 2, 1.</summary>
    private static int? TasksOnNode(Func<string, string?> variables, string name)
    {
        var text = variables(name);
        if (string.IsNullOrWhiteSpace(text)) return null;
        var node = Int(variables, "SLURM_NODEID") ?? 0;
        foreach (var entry in text.Split(','))
        {
            var match = PerNodeEntry().Match(entry.Trim());
            if (!match.Success)
                throw new AccelerateException(RuntimeErrorCode.BadLaunchVariable, $"The environment variable {name}='{text}' is not a SLURM per-node list such as 2(x3),1. Unset it, or set it to the value srun would (see docs/clusters.md).");
            var count = int.Parse(match.Groups["count"].Value, CultureInfo.InvariantCulture);
            var repeat = match.Groups["repeat"].Success ? int.Parse(match.Groups["repeat"].Value, CultureInfo.InvariantCulture) : 1;
            if (node < repeat) return count > 0 ? count : null;
            node -= repeat;
        }
        return null;
    }

    /// <summary>The leading count of a SLURM per-node list such as <c>4(x2),3</c>.</summary>
    private static int? FirstCount(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var match = LeadingNumber().Match(text);
        return match.Success && int.TryParse(match.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : null;
    }

    private static DistributedEnvironment Validate(DistributedEnvironment environment, string rankName, string worldName)
    {
        if (environment.WorldSize < 1)
            throw new AccelerateException(RuntimeErrorCode.BadLaunchVariable, $"{worldName}={environment.WorldSize} must be at least 1. Set it to the number of processes in the job.");
        if (environment.Rank < 0 || environment.Rank >= environment.WorldSize)
            throw new AccelerateException(RuntimeErrorCode.BadLaunchVariable, $"{rankName}={environment.Rank} is outside 0..{environment.WorldSize - 1} ({worldName}={environment.WorldSize}). Give each process a rank below the world size.");
        if (environment.MasterPort is < 0 or > 65535)
            throw new AccelerateException(RuntimeErrorCode.BadLaunchVariable, $"MASTER_PORT={environment.MasterPort} is not a TCP port. Set it to a free port between 1 and 65535.");
        return environment;
    }

    private static int? Int(Func<string, string?> variables, string name) => LaunchValues.Int(variables, name, static (name, text) =>
        new AccelerateException(RuntimeErrorCode.BadLaunchVariable, $"The environment variable {name}='{text}' is not a whole number. Unset it, or set it to the value the launcher would (see docs/launch-contract.md)."));

    [GeneratedRegex(@"^\d+")]
    private static partial Regex LeadingNumber();

    [GeneratedRegex(@"^(?<count>\d{1,9})(\(x(?<repeat>\d{1,9})\))?$")]
    private static partial Regex PerNodeEntry();
}
