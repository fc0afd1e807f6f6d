namespace Accelerate.Cli.Launch;

/// <summary>Stable codes of <c>accelerate launch</c> errors (ranges ACC3001–3099 and ACC3110–3129), listed in docs/diagnostics.md.</summary>
internal static class LaunchErrorCode
{
    /// <summary>An option the launcher does not know.</summary>
    public const string UnknownOption = "ACC3001";
    /// <summary>An option given without its value.</summary>
    public const string MissingValue = "ACC3002";
    /// <summary>A value the option does not allow.</summary>
    public const string BadValue = "ACC3003";
    /// <summary>Options that contradict each other.</summary>
    public const string Contradiction = "ACC3005";
    /// <summary><c>--main_process_ip</c> missing or unusable with several machines.</summary>
    public const string MainProcessIp = "ACC3006";
    /// <summary>No program given.</summary>
    public const string NoProgram = "ACC3007";
    /// <summary>The program was not found or could not be started.</summary>
    public const string ProgramNotFound = "ACC3008";
    /// <summary>Building the project given as the program failed.</summary>
    public const string BuildFailed = "ACC3009";
    /// <summary><c>ACCELERATE_LAUNCH_SECRET</c> is not 64 hex characters.</summary>
    public const string BadSecret = "ACC3011";
    /// <summary>A SLURM or <c>PET_*</c> variable the launcher reads its settings from is malformed.</summary>
    public const string SchedulerVariable = "ACC3080";
    /// <summary>The mpirun hostfile does not exist.</summary>
    public const string MpirunHostfile = "ACC3081";
    /// <summary>Neither mpirun nor mpiexec can be found or started.</summary>
    public const string MpirunMissing = "ACC3082";
    /// <summary>The rendezvous port is in use.</summary>
    public const string PortBusy = "ACC3020";
    /// <summary>Machines missing from the rendezvous.</summary>
    public const string MachinesMissing = "ACC3030";
    /// <summary>Machine 0 turned this machine away (mismatched options or secret).</summary>
    public const string TurnedAway = "ACC3031";
    /// <summary>A machine of the c10d rendezvous has another <c>--rdzv_id</c> than the host.</summary>
    public const string RendezvousIdMismatch = "ACC3090";
    /// <summary>Fewer machines than needed joined the c10d rendezvous in time.</summary>
    public const string TooFewMachines = "ACC3091";
    /// <summary><c>--rdzv_endpoint</c> is not HOST[:PORT].</summary>
    public const string BadEndpoint = "ACC3092";
    /// <summary>Machine 0's SLURM node (the node list's first host) does not resolve here, and SLURM knows no other address for it.</summary>
    public const string SlurmNodeUnreachable = "ACC3110";
    /// <summary>A machine arrived at a running c10d job that already runs on MAX (<c>--nnodes MIN:MAX</c>) machines.</summary>
    public const string JobAtMostMachines = "ACC3120";
    /// <summary>A machine arrived at a c10d job that is ending: its rendezvous is closed.</summary>
    public const string RendezvousClosed = "ACC3121";
    /// <summary><c>PET_NNODES</c> is a range of machines, but the rendezvous is static.</summary>
    public const string PetRangeNeedsC10d = "ACC3122";
}
