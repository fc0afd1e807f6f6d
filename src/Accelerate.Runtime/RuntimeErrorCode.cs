namespace Accelerate;

/// <summary>Stable codes of the runtime's errors and notes (range ACC2001–2399), listed in docs/diagnostics.md.</summary>
internal static class RuntimeErrorCode
{
    /// <summary>libtorch failed to load.</summary>
    public const string LibTorchNotLoaded = "ACC2001";
    /// <summary>A launch variable is malformed.</summary>
    public const string BadLaunchVariable = "ACC2002";

    /// <summary>Several machines under <c>mpirun</c>/<c>srun</c> but no <c>MASTER_ADDR</c>.</summary>
    public const string NoMasterAddress = "ACC2100";
    /// <summary>Rank 0 cannot listen on <c>MASTER_PORT</c>.</summary>
    public const string StoreCannotListen = "ACC2101";
    /// <summary>A rank cannot reach rank 0's store before the rendezvous timeout.</summary>
    public const string StoreUnreachable = "ACC2102";
    /// <summary>Ranks missing at the rendezvous.</summary>
    public const string RanksMissing = "ACC2103";
    /// <summary>Refused by the store: a different launch secret.</summary>
    public const string StoreRefused = "ACC2104";
    /// <summary>The store connection broke.</summary>
    public const string StoreConnectionBroken = "ACC2105";
    /// <summary>Two processes claim one rank.</summary>
    public const string RankClaimedTwice = "ACC2106";
    /// <summary>Ranks started with different world sizes.</summary>
    public const string WorldSizeMismatch = "ACC2107";
    /// <summary>A rank cannot connect to a peer.</summary>
    public const string PeerUnreachable = "ACC2108";
    /// <summary>Ranks called different collectives, or sent sizes that do not match.</summary>
    public const string CollectiveMismatch = "ACC2110";
    /// <summary>A peer exited or crashed during a collective.</summary>
    public const string PeerGone = "ACC2111";
    /// <summary>A peer did not answer within the collective timeout.</summary>
    public const string CollectiveTimeout = "ACC2112";
    /// <summary>The group failed earlier; no more collectives.</summary>
    public const string GroupFailed = "ACC2113";
    /// <summary>The periodic parameter check found ranks holding different parameters.</summary>
    public const string ParametersDiverged = "ACC2114";
    /// <summary><c>CheckParameterSyncEvery</c> / <c>ACCELERATE_CHECK_PARAMETERS_EVERY</c> is not a whole number of steps, 0 or more.</summary>
    public const string BadParameterCheckInterval = "ACC2115";
    /// <summary><c>dotnet run -t:AccelerateLaunch</c> found an unreadable launch command next to the program, or could not start the launcher.</summary>
    public const string RunLaunchFailed = "ACC2116";
    /// <summary>A dtype the collectives do not support.</summary>
    public const string UnsupportedDtype = "ACC2120";
    /// <summary>A reduction the dtype does not support.</summary>
    public const string UnsupportedReduction = "ACC2121";
    /// <summary><c>ReduceScatter</c> of a scalar.</summary>
    public const string UnsupportedShape = "ACC2122";
    /// <summary>A tensor on a device the process group does not handle.</summary>
    public const string UnsupportedDevice = "ACC2123";
    /// <summary>A backend or timeout setting that is not valid.</summary>
    public const string BadCollectiveSetting = "ACC2124";
    /// <summary>NCCL backend without CUDA.</summary>
    public const string NcclWithoutCuda = "ACC2130";
    /// <summary><c>libnccl.so.2</c> could not be loaded.</summary>
    public const string NcclNotLoaded = "ACC2131";
    /// <summary>An NCCL call failed.</summary>
    public const string NcclCallFailed = "ACC2132";
    /// <summary>Open MPI's <c>libmpi</c> could not be loaded.</summary>
    public const string MpiNotLoaded = "ACC2140";
    /// <summary>An MPI call failed.</summary>
    public const string MpiCallFailed = "ACC2141";
    /// <summary>MPI and the environment disagree about the rank or world size.</summary>
    public const string MpiEnvironmentMismatch = "ACC2142";
    /// <summary>The rendezvous store did not answer in time.</summary>
    public const string StoreSilent = "ACC2160";
    /// <summary>Note: the shared-memory region does not fit in <c>/dev/shm</c>.</summary>
    public const string SharedMemoryTooSmall = "ACC2180";
    /// <summary>Note: a rank cannot open local rank 0's shared-memory region.</summary>
    public const string SharedMemoryNotShared = "ACC2181";
    /// <summary>The SLURM node list cannot be read.</summary>
    public const string BadSlurmNodeList = "ACC2190";
    /// <summary>Note: the program runs in a SLURM batch script, not as a task <c>srun</c> started.</summary>
    public const string SlurmBatchScript = "ACC2191";
    /// <summary>Rank 0's SLURM node (the node list's first host) does not resolve here, and SLURM knows no other address for it.</summary>
    public const string SlurmNodeUnreachable = "ACC2150";

    /// <summary>TorchSharp keeps module parameters somewhere unexpected.</summary>
    public const string UnsupportedTorchSharp = "ACC2201";
    /// <summary>Gradient accumulation steps not a whole number ≥ 1.</summary>
    public const string BadGradientAccumulationSteps = "ACC2202";
    /// <summary><c>ACCELERATE_MIXED_PRECISION</c> not <c>no</c>/<c>fp16</c>/<c>bf16</c>.</summary>
    public const string BadMixedPrecision = "ACC2203";
    /// <summary>Optimizer built from an already converted model.</summary>
    public const string OptimizerOfConvertedModel = "ACC2204";
    /// <summary>Scheduler prepared before any optimizer.</summary>
    public const string SchedulerBeforeOptimizer = "ACC2205";
    /// <summary>Checkpoint from a different model.</summary>
    public const string CheckpointOfOtherModel = "ACC2210";
    /// <summary>An object registered for checkpointing does not implement <c>ICheckpointable</c>.</summary>
    public const string NotCheckpointable = "ACC2211";
    /// <summary>Optimizer without managed state.</summary>
    public const string OptimizerWithoutState = "ACC2212";
    /// <summary>No checkpoint to load, or not a complete one.</summary>
    public const string NoCheckpoint = "ACC2213";
    /// <summary><c>SaveState()</c> without a folder or automatic naming.</summary>
    public const string NoCheckpointFolder = "ACC2214";
    /// <summary>Batch size below 1, or a rank outside the world when sharding.</summary>
    public const string BadBatchSize = "ACC2220";
    /// <summary><c>SplitBatches</c> with a batch size that does not divide by the number of processes.</summary>
    public const string BatchNotDivisible = "ACC2221";
    /// <summary>Averaging gradients across ranks failed.</summary>
    public const string GradientSyncFailed = "ACC2230";
    /// <summary><c>LogWith</c> names an unknown tracker, or <c>GetTracker</c> one it does not select.</summary>
    public const string UnknownTracker = "ACC2231";
    /// <summary><c>InitTrackers</c> after the trackers had started.</summary>
    public const string TrackersAlreadyStarted = "ACC2232";
    /// <summary><c>ACCELERATE_LOG_LEVEL</c> is not a log level.</summary>
    public const string BadLogLevel = "ACC2233";
    /// <summary>Under fp16/bf16, a tensor of another dtype met the model.</summary>
    public const string MixedPrecisionDtypeMismatch = "ACC2240";
    /// <summary><c>Backward</c> got a loss that needs no gradient.</summary>
    public const string LossNeedsNoGradient = "ACC2241";
    /// <summary><c>Backward</c> got a loss with more than one value.</summary>
    public const string LossNotScalar = "ACC2242";
    /// <summary><c>Backward</c> ran twice through the same forward pass.</summary>
    public const string BackwardTwice = "ACC2243";
    /// <summary><c>Backward</c> got a loss that was already disposed.</summary>
    public const string LossDisposed = "ACC2244";
    /// <summary><c>SplitRowsBetweenProcesses</c> got a scalar tensor.</summary>
    public const string ScalarHasNoRows = "ACC2245";
    /// <summary>Under fp16/bf16, an fp16/bf16 tensor was read with <c>item&lt;float&gt;()</c>.</summary>
    public const string ReducedPrecisionItem = "ACC2246";
    /// <summary><c>TotalLimit</c> below 1.</summary>
    public const string BadTotalLimit = "ACC2250";
    /// <summary>A file of the checkpoint is missing.</summary>
    public const string CheckpointFileMissing = "ACC2252";
    /// <summary>A file of the checkpoint is damaged.</summary>
    public const string CheckpointFileDamaged = "ACC2253";
    /// <summary>A safetensors file is damaged or hostile.</summary>
    public const string SafeTensorsDamaged = "ACC2270";
    /// <summary>A sharded-weights index is damaged.</summary>
    public const string SafeTensorsIndexDamaged = "ACC2271";
    /// <summary>A tensor whose dtype safetensors cannot hold.</summary>
    public const string SafeTensorsUnsupportedDtype = "ACC2272";
    /// <summary>No weights where <c>LoadModel</c> looks.</summary>
    public const string NoWeights = "ACC2273";
    /// <summary><c>maxShardSize</c> below 1.</summary>
    public const string BadShardSize = "ACC2274";
    /// <summary>The checkpoint folder to resume from does not exist.</summary>
    public const string ResumeFolderMissing = "ACC2275";
    /// <summary>Note: the job was pre-empted and saved a checkpoint.</summary>
    public const string Preempted = "ACC2276";
    /// <summary>A structure given to a gathering collective holds something other than a tensor.</summary>
    public const string NotATensorLeaf = "ACC2280";
    /// <summary><c>SkipFirstBatches</c> given a negative count or an unprepared loader.</summary>
    public const string BadSkipFirstBatches = "ACC2281";
    /// <summary><c>NoSync(model)</c> or <c>TriggerSyncInBackward(model)</c> given a model that was not prepared.</summary>
    public const string ModelNotPrepared = "ACC2260";
    /// <summary>A <see cref="GradScalerOptions"/> value out of range.</summary>
    public const string BadGradScalerOption = "ACC2261";
    /// <summary>A <see cref="DistributedDataParallelOptions"/> value out of range.</summary>
    public const string BadDistributedDataParallelOption = "ACC2262";
    /// <summary>A gather into caller tensors got the wrong number of output tensors, or none where they are received.</summary>
    public const string GatherOutputCount = "ACC2263";
    /// <summary>A gather's output tensor has a shape that does not hold what it receives.</summary>
    public const string GatherOutputShape = "ACC2264";
    /// <summary>A gather's output tensor has another dtype than the input.</summary>
    public const string GatherOutputDtype = "ACC2265";
    /// <summary>A gather's output tensor is not contiguous.</summary>
    public const string GatherOutputNotContiguous = "ACC2266";
    /// <summary>A collective's result cannot be written into the tensor given (an expanded view whose elements share memory).</summary>
    public const string CollectiveOutputOverlaps = "ACC2286";
    /// <summary>An MPI gather or reduce-scatter whose blocks need counts past 32 bits.</summary>
    public const string MpiCountTooLarge = "ACC2287";
    /// <summary>A checkpoint of per-rank batches without the global data position, on another number of processes.</summary>
    public const string CheckpointWithoutGlobalPosition = "ACC2290";
    /// <summary>A rank cannot see the checkpoint folder the main process wrote.</summary>
    public const string CheckpointFolderNotShared = "ACC2291";
    /// <summary>A rank has no complete copy of the checkpoint every rank loads.</summary>
    public const string CheckpointMissingOnThisMachine = "ACC2292";

    /// <summary>Several training functions, none chosen.</summary>
    public const string NoTrainingFunctionChosen = "ACC2301";
    /// <summary>The chosen name names no training function.</summary>
    public const string UnknownTrainingFunction = "ACC2302";
    /// <summary>The launcher is gone; the rank stops.</summary>
    public const string LauncherGone = "ACC2303";
    /// <summary><c>ACCELERATE_LAUNCHER_PID</c> is not a process id.</summary>
    public const string BadLauncherPid = "ACC2305";
}
