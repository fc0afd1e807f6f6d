using Accelerate.Configuration;

namespace Accelerate.Cli.Launch;

/// <summary>Builds the launch contract (docs/launch-contract.md) for one rank.</summary>
internal static class RankEnvironment
{
    /// <summary>
    /// The variables rank <paramref name="localRank"/> of this machine gets on attempt <paramref name="restartCount"/>;
    /// <paramref name="stopFile"/> is the file the launcher creates before it stops the ranks because of a failure.
    /// </summary>
    public static Dictionary<string, string> For(LaunchPlan plan, JobIdentity job, int localRank, int restartCount, string errorFile, string stopFile)
    {
        var rank = plan.MachineRank * plan.LocalProcesses + localRank;
        static string Text(int value) => LaunchValues.Format(value);
        var variables = new Dictionary<string, string>
        {
            [LaunchVariables.Rank] = Text(rank),
            [LaunchVariables.LocalRank] = Text(localRank),
            [LaunchVariables.WorldSize] = Text(plan.NumProcesses),
            [LaunchVariables.LocalWorldSize] = Text(plan.LocalProcesses),
            [LaunchVariables.GroupRank] = Text(plan.MachineRank),
            [LaunchVariables.GroupWorldSize] = Text(plan.NumMachines),
            [LaunchVariables.RoleRank] = Text(rank),
            [LaunchVariables.RoleWorldSize] = Text(plan.NumProcesses),
            [LaunchVariables.RoleName] = plan.Role,
            [LaunchVariables.MasterAddress] = plan.MainProcessIp,
            [LaunchVariables.MasterPort] = Text(job.MasterPort),
            [LaunchVariables.RestartCount] = Text(restartCount),
            [LaunchVariables.MaxRestarts] = Text(plan.MaxRestarts),
            [LaunchVariables.RunId] = job.RunId,
            [LaunchVariables.ErrorFile] = errorFile,
            [LaunchVariables.OmpNumThreads] = Text(plan.ThreadsPerProcess),
            [LaunchVariables.MixedPrecision] = plan.MixedPrecision.ToWire(),
            [LaunchVariables.UseCpu] = LaunchValues.Format(plan.UseCpu),
            [LaunchVariables.GradientAccumulationSteps] = Text(plan.GradientAccumulationSteps),
            [LaunchVariables.LaunchSecret] = job.Secret,
            [LaunchVariables.LauncherPid] = Text(Environment.ProcessId),
            [LaunchVariables.StopFile] = stopFile,
            [LaunchVariables.RendezvousTimeout] = Text((int)plan.RendezvousTimeout.TotalSeconds),
        };
        if (plan.Debug) variables[LaunchVariables.DebugMode] = "true";
        if (plan.GpuIds is not null) variables[LaunchVariables.CudaVisibleDevices] = plan.GpuIds;
        if (plan.MainTrainingFunction is not null) variables[LaunchVariables.MainTrainingFunction] = plan.MainTrainingFunction;
        return variables;
    }
}
