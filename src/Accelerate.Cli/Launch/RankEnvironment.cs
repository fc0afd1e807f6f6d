using System.Globalization;

namespace Accelerate.Cli.Launch;

/// <summary>Builds the launch contract (docs/launch-contract.md) for one rank.</summary>
internal static class RankEnvironment
{
    /// <summary>The variables rank <paramref name="localRank"/> of this machine gets on attempt <paramref name="restartCount"/>.</summary>
    public static Dictionary<string, string> For(LaunchPlan plan, JobIdentity job, int localRank, int restartCount, string errorFile)
    {
        var rank = plan.MachineRank * plan.LocalProcesses + localRank;
        string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
        var variables = new Dictionary<string, string>
        {
            ["RANK"] = Text(rank),
            ["LOCAL_RANK"] = Text(localRank),
            ["WORLD_SIZE"] = Text(plan.NumProcesses),
            ["LOCAL_WORLD_SIZE"] = Text(plan.LocalProcesses),
            ["GROUP_RANK"] = Text(plan.MachineRank),
            ["GROUP_WORLD_SIZE"] = Text(plan.NumMachines),
            ["ROLE_RANK"] = Text(rank),
            ["ROLE_WORLD_SIZE"] = Text(plan.NumProcesses),
            ["ROLE_NAME"] = plan.Role,
            ["MASTER_ADDR"] = plan.MainProcessIp,
            ["MASTER_PORT"] = Text(job.MasterPort),
            ["TORCHELASTIC_RESTART_COUNT"] = Text(restartCount),
            ["TORCHELASTIC_MAX_RESTARTS"] = Text(plan.MaxRestarts),
            ["TORCHELASTIC_RUN_ID"] = job.RunId,
            ["TORCHELASTIC_ERROR_FILE"] = errorFile,
            ["OMP_NUM_THREADS"] = Text(plan.ThreadsPerProcess),
            ["ACCELERATE_MIXED_PRECISION"] = plan.MixedPrecision,
            ["ACCELERATE_USE_CPU"] = plan.UseCpu ? "True" : "False",
            ["ACCELERATE_GRADIENT_ACCUMULATION_STEPS"] = Text(plan.GradientAccumulationSteps),
            ["ACCELERATE_LAUNCH_SECRET"] = job.Secret,
            ["ACCELERATE_LAUNCHER_PID"] = Text(Environment.ProcessId),
            ["ACCELERATE_RDZV_TIMEOUT"] = Text((int)plan.RendezvousTimeout.TotalSeconds),
        };
        if (plan.Debug) variables["ACCELERATE_DEBUG_MODE"] = "true";
        if (plan.GpuIds is not null) variables["CUDA_VISIBLE_DEVICES"] = plan.GpuIds;
        if (plan.MainTrainingFunction is not null) variables["ACCELERATE_MAIN_TRAINING_FUNCTION"] = plan.MainTrainingFunction;
        return variables;
    }
}
