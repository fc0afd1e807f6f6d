namespace Accelerate;

/// <summary>
/// Settings for an <see cref="Accelerator"/>. A value left null is read from the launch contract
/// (<c>ACCELERATE_MIXED_PRECISION</c>, <c>ACCELERATE_GRADIENT_ACCUMULATION_STEPS</c>,
/// <c>ACCELERATE_USE_CPU</c>), as HF accelerate does.
/// </summary>
public sealed record AcceleratorOptions
{
    /// <summary>Forward/backward precision; null reads <c>ACCELERATE_MIXED_PRECISION</c> (default no).</summary>
    public MixedPrecision? MixedPrecision { get; init; }

    /// <summary>Batches whose gradients are summed before one optimizer step; null reads <c>ACCELERATE_GRADIENT_ACCUMULATION_STEPS</c> (default 1).</summary>
    public int? GradientAccumulationSteps { get; init; }

    /// <summary>Force the CPU even when CUDA is available; null reads <c>ACCELERATE_USE_CPU</c>.</summary>
    public bool? Cpu { get; init; }

    /// <summary>Move prepared models and batches to <see cref="Accelerator.Device"/> (default true).</summary>
    public bool DevicePlacement { get; init; } = true;

    /// <summary>
    /// When true the loader's batch size is the global batch, split across ranks (it must divide by
    /// the number of processes); when false (default) every rank gets whole batches of that size.
    /// </summary>
    public bool SplitBatches { get; init; }

    /// <summary>
    /// When true (default) the last batches are completed with samples from the start of the epoch so
    /// that every rank takes the same number of steps of the same size.
    /// </summary>
    public bool EvenBatches { get; init; } = true;

    /// <summary>Seed of the per-epoch shuffle, identical on every rank (epoch e uses seed + e).</summary>
    public long DataSeed { get; init; } = 42;

    /// <summary>Step the scheduler once per process per optimizer step, as HF does (default true).</summary>
    public bool StepSchedulerWithOptimizer { get; init; } = true;

    /// <summary>
    /// Overlap the gradient all-reduce with the backward pass (default true): each module's gradients
    /// are reduced on a communication thread as soon as backward has produced them. Only modules run
    /// through <c>call</c> (as <c>Sequential</c> runs its children) take part; the rest are reduced
    /// after backward. Turn it off for a model that uses a module's parameters outside that module's
    /// own forward (other than tied weights registered in both modules, which are detected).
    /// </summary>
    public bool OverlapGradientSync { get; init; } = true;

    /// <summary>
    /// Under gradient accumulation, make the last batch of a prepared data loader's epoch a
    /// synchronizing step (default true), as HF's <c>GradientAccumulationPlugin(sync_with_dataloader)</c>.
    /// When false the count of accumulated batches runs on across epochs: every
    /// <see cref="GradientAccumulationSteps"/>-th batch synchronizes, wherever the epoch ends.
    /// </summary>
    public bool SyncWithDataLoader { get; init; } = true;

    /// <summary>
    /// Under gradient accumulation, average the gradients across ranks after every batch's backward
    /// instead of only on synchronizing steps (default false), as HF's
    /// <c>GradientAccumulationPlugin(sync_each_batch)</c>; the optimizer still steps every
    /// <see cref="GradientAccumulationSteps"/> batches and reaches the same parameters. It costs one
    /// all-reduce per batch; use it when ranks must see the same gradients between steps.
    /// </summary>
    public bool SyncEachBatch { get; init; }

    /// <summary>
    /// How gradients and buffers are kept in sync across ranks (HF's <c>DistributedDataParallelKwargs</c>):
    /// buffer broadcasting, unused parameters, bucket size.
    /// </summary>
    public DistributedDataParallelOptions DistributedDataParallel { get; init; } = new();

    /// <summary>
    /// Every this many optimizer steps, check that every rank still holds the same parameters (null: read
    /// <c>ACCELERATE_CHECK_PARAMETERS_EVERY</c>, unset means off; 0: off). DDP makes ranks equal once, by
    /// broadcasting rank 0's parameters when the model is wrapped, and from then on relies on every rank
    /// applying the same averaged gradients; nothing in torch or HF accelerate notices when they drift apart
    /// (a parameter changed on one rank only, an update outside the optimizer, a nondeterministic kernel).
    /// The check all-gathers two float64 checksums per parameter at the backward of every N-th
    /// synchronizing step and fails with ACC2114 naming the first parameter that differs, the step and
    /// every rank's values.
    /// </summary>
    public int? CheckParameterSyncEvery { get; init; }

    /// <summary>Folder for automatic checkpoints (<c>checkpoints/checkpoint_N</c>) and logs; default the working directory.</summary>
    public string? ProjectDirectory { get; init; }

    /// <summary>Name <see cref="Accelerator.SaveState"/> folders <c>checkpoint_N</c> under the project directory, N following the highest existing one.</summary>
    public bool AutomaticCheckpointNaming { get; init; }

    /// <summary>With automatic naming: keep at most this many checkpoints (1 or more), deleting the oldest once a new one is on the disk; null keeps all.</summary>
    public int? TotalLimit { get; init; }

    /// <summary>
    /// Resume a restarted or re-queued job by itself: <c>"latest"</c> loads the newest complete
    /// <c>checkpoints/checkpoint_N</c> under <see cref="ProjectDirectory"/> when there is one (none,
    /// on a first run, is not an error); any other value is the folder of a checkpoint to load (it must
    /// exist). Null reads <c>ACCELERATE_RESUME_FROM_CHECKPOINT</c>. The checkpoint is loaded when
    /// training starts, see <see cref="Accelerator.Resume"/>.
    /// </summary>
    public string? ResumeFromCheckpoint { get; init; }

    /// <summary>
    /// For machines that share no file system (HF's <c>ProjectConfiguration.save_on_each_node</c>):
    /// <see cref="Accelerator.SaveState"/> writes a complete checkpoint on every machine (each
    /// machine's local main process the shared parts, every rank its own RNG state) and
    /// <see cref="Accelerator.LoadState"/> reads each machine's own copy. Off (the default), one copy
    /// is written by the main process into a folder every machine must see.
    /// </summary>
    public bool SaveOnEachNode { get; init; }

    /// <summary>
    /// The folder the trackers write under (HF's <c>logging_dir</c>); <see cref="Accelerator.InitTrackers"/>
    /// adds a sub-folder named after the project. Default <c>runs</c> under <see cref="ProjectDirectory"/>.
    /// </summary>
    public string? LogDirectory { get; init; }

    /// <summary>
    /// The trackers <see cref="Accelerator.Log"/> writes to (HF's <c>log_with</c>): <c>tensorboard</c>
    /// (event files), <c>jsonl</c> (<c>metrics.jsonl</c>), <c>all</c> (both). Null means
    /// <c>tensorboard</c>; an empty list turns tracking off. An unknown name is error ACC2231 when
    /// the trackers start.
    /// </summary>
    public IReadOnlyList<string>? LogWith { get; init; }

    /// <summary>
    /// Where <see cref="Accelerator.GetLogger"/> sends entries (e.g. a factory with a console
    /// provider); null writes them to standard error from the level <c>ACCELERATE_LOG_LEVEL</c> names.
    /// </summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>fp16 dynamic loss scaling (HF's <c>GradScalerKwargs</c>): initial scale, growth and backoff factors, growth interval, on or off.</summary>
    public GradScalerOptions GradScaler { get; init; } = new();
}
