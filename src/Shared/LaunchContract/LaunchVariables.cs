namespace Accelerate;

/// <summary>
/// The names of the launch contract (docs/launch-contract.md): the environment variables the launcher sets
/// for every rank and the runtime reads. This file is compiled into both, so that a name exists once.
/// </summary>
internal static class LaunchVariables
{
    public const string Rank = "RANK";
    public const string LocalRank = "LOCAL_RANK";
    public const string WorldSize = "WORLD_SIZE";
    public const string LocalWorldSize = "LOCAL_WORLD_SIZE";
    public const string GroupRank = "GROUP_RANK";
    public const string GroupWorldSize = "GROUP_WORLD_SIZE";
    public const string RoleRank = "ROLE_RANK";
    public const string RoleWorldSize = "ROLE_WORLD_SIZE";
    public const string RoleName = "ROLE_NAME";
    public const string MasterAddress = "MASTER_ADDR";
    public const string MasterPort = "MASTER_PORT";
    public const string RestartCount = "TORCHELASTIC_RESTART_COUNT";
    public const string MaxRestarts = "TORCHELASTIC_MAX_RESTARTS";
    public const string RunId = "TORCHELASTIC_RUN_ID";
    public const string ErrorFile = "TORCHELASTIC_ERROR_FILE";
    public const string OmpNumThreads = "OMP_NUM_THREADS";
    public const string CudaVisibleDevices = "CUDA_VISIBLE_DEVICES";
    public const string MixedPrecision = "ACCELERATE_MIXED_PRECISION";
    public const string UseCpu = "ACCELERATE_USE_CPU";
    public const string DebugMode = "ACCELERATE_DEBUG_MODE";
    public const string GradientAccumulationSteps = "ACCELERATE_GRADIENT_ACCUMULATION_STEPS";
    public const string LaunchSecret = "ACCELERATE_LAUNCH_SECRET";
    public const string LauncherPid = "ACCELERATE_LAUNCHER_PID";
    public const string StopFile = "ACCELERATE_STOP_FILE";
    public const string MainTrainingFunction = "ACCELERATE_MAIN_TRAINING_FUNCTION";
    public const string RendezvousTimeout = "ACCELERATE_RDZV_TIMEOUT";

    // Read by the runtime only: set by the user, not by the launcher.
    public const string DistributedBackend = "ACCELERATE_DISTRIBUTED_BACKEND";
    public const string CollectiveTimeout = "ACCELERATE_COLLECTIVE_TIMEOUT";
    public const string CheckParametersEvery = "ACCELERATE_CHECK_PARAMETERS_EVERY";
}
