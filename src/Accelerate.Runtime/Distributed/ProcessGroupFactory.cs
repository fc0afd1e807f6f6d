using Accelerate.Configuration.Slurm;
using Accelerate.Distributed.Collectives;
using Accelerate.Distributed.Rendezvous;
using Accelerate.Distributed.Tcp;

namespace Accelerate.Distributed;

/// <summary>Chooses and connects the process group backend for an environment.</summary>
internal static class ProcessGroupFactory
{
    public static ProcessGroup Create(DistributedEnvironment environment, TimeSpan timeout) =>
        Create(environment, timeout, CollectiveSettings.Read(), message => Console.Error.WriteLine($"accelerate [rank {environment.Rank}]: {message}"));

    public static ProcessGroup Create(DistributedEnvironment environment, TimeSpan timeout, CollectiveSettings settings, Action<string> log)
    {
        var rendezvousTimeout = settings.RendezvousTimeout ?? timeout;
        var useMpi = settings.Backend == "mpi" || (settings.Backend == "auto" && environment.Launcher is "mpirun" or "mpiexec" && MpiAvailable(log));
        var group = settings.Backend switch
        {
            _ when useMpi => Mpi.MpiProcessGroup.Create(environment, settings.DebugMode),
            "nccl" => Nccl.NcclProcessGroup.Create(() => CreateTcp(environment, rendezvousTimeout, settings, log), TorchSharp.torch.cuda.is_available(), settings.CollectiveTimeout),
            _ => CreateTcp(environment, rendezvousTimeout, settings, log),
        };
        LaunchSecretVariable.Forget();
        return group;
    }

    private static ProcessGroup CreateTcp(DistributedEnvironment environment, TimeSpan rendezvousTimeout, CollectiveSettings settings, Action<string> log)
    {
        if (string.IsNullOrEmpty(environment.MasterAddress))
            throw new AccelerateException(RuntimeErrorCode.NoMasterAddress, $"Rank {environment.Rank} was started by {environment.Launcher} across several machines, but MASTER_ADDR is not set, so ranks cannot find rank 0. " +
                "Pass it on (mpirun -x MASTER_ADDR=<rank 0's host> -x MASTER_PORT=29500), or use the MPI backend (ACCELERATE_DISTRIBUTED_BACKEND=mpi).");
        environment = WithReachableSlurmNode(environment, log);
        var proof = Proof(environment, log);
        var met = RendezvousJoin.Join(environment, proof, rendezvousTimeout, log, keepStore: settings.DebugMode);
        CollectiveProgress? progress = null;
        try
        {
            // Debug mode: rank 0 keeps serving the store, where ranks record their progress for timeout reports.
            if (settings.DebugMode)
                progress = CollectiveProgress.Connect(environment.MasterAddress, met.ProgressPort!.Value, proof, environment.Rank, environment.WorldSize, rendezvousTimeout, met.Store);
        }
        catch
        {
            foreach (var link in met.Links) link?.Dispose();
            throw;
        }
        try
        {
            var group = new TcpAndSharedMemoryProcessGroup(environment.Rank, met.Peers, met.Links, settings.CollectiveTimeout, settings.DebugMode,
                useSharedMemory: settings.Backend != "tcp", log);
            if (progress is not null) group.TrackProgress(progress);
            return group;
        }
        catch
        {
            progress?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Ranks started by srun meet at the node list's first host, a node name. Where it does not resolve, SLURM reaches
    /// the node at its NodeAddr, and so do the ranks. An explicit MASTER_ADDR is left alone.
    /// </summary>
    private static DistributedEnvironment WithReachableSlurmNode(DistributedEnvironment environment, Action<string> log)
    {
        if (environment.Launcher != "srun" || !string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable(LaunchVariables.MasterAddress))) return environment;
        var node = environment.MasterAddress;
        var address = SlurmNodeAddress.Find(node, out var why)
            ?? throw new AccelerateException(RuntimeErrorCode.SlurmNodeUnreachable,
                $"Rank 0's node {node} (the first host of SLURM_JOB_NODELIST) does not resolve on this machine, and SLURM gives no other address for it ({why}). " +
                "Make the node names resolve (DNS or /etc/hosts), set the node's NodeAddr in slurm.conf, or export MASTER_ADDR with rank 0's address before srun.");
        if (address == node) return environment;
        if (environment.Rank == 0) log($"rank 0's node {node} does not resolve here; meeting at its NodeAddr {address} (`scontrol show node {node}`)");
        return environment with { MasterAddress = address };
    }

    private static bool MpiAvailable(Action<string> log)
    {
        try
        {
            Mpi.LibMpi.EnsureLoaded();
            return true;
        }
        catch (AccelerateException e)
        {
            log($"started by mpirun, but the MPI backend is unavailable ({e.Message}); using TCP.");
            return false;
        }
    }

    internal static MembershipProof Proof(DistributedEnvironment environment, Action<string> log)
    {
        if (!string.IsNullOrEmpty(environment.Secret)) return new MembershipProof(environment.Secret);
        if (environment.Rank == 0)
            log($"ACCELERATE_LAUNCH_SECRET is not set ({environment.Launcher} launch): the rendezvous at {environment.MasterAddress}:{environment.MasterPort} only checks that peers speak the protocol. " +
                "Set the same random ACCELERATE_LAUNCH_SECRET on every rank (accelerate launch does) to admit only this job's ranks.");
        return new MembershipProof($"accelerate-unauthenticated:{environment.MasterPort}:{environment.WorldSize}") { IsAuthenticated = false };
    }
}
