using System.Globalization;
using Accelerate.Distributed;
using Accelerate.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate;

/// <summary>
/// Runs one training loop on one CPU, N processes or N machines: prepares the model, optimizer,
/// data and scheduler, and keeps gradients in sync. The .NET counterpart of HF accelerate's
/// <c>Accelerator</c>.
/// </summary>
public partial class Accelerator
{
    /// <summary>Creates an accelerator for this process, joining the job's process group if it was launched as one of several ranks.</summary>
    public Accelerator() : this(new AcceleratorOptions())
    {
    }

    /// <summary>
    /// Creates an accelerator with explicit settings; every setting left null is read from the
    /// launch contract. Joins the job's process group if the process was launched as one of several ranks.
    /// </summary>
    public Accelerator(AcceleratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.GradScaler);
        ArgumentNullException.ThrowIfNull(options.DistributedDataParallel);
        // Checked whatever the precision, so that a bad setting fails on the first run, not the first fp16 one.
        DynamicLossScaler.Validate(options.GradScaler);
        if (!(options.DistributedDataParallel.BucketCapMb > 0))
            throw new AccelerateException(RuntimeErrorCode.BadDistributedDataParallelOption, $"DistributedDataParallelOptions.BucketCapMb is {options.DistributedDataParallel.BucketCapMb.ToString(CultureInfo.InvariantCulture)}; it must be a positive number of MiB. Set it to e.g. 25 (the default).");
        LibTorchLoader.EnsureLoaded();
        Environment = DistributedState.Environment;
        Group = DistributedState.Initialize();
        ValidateCheckpointOptions(options);
        Options = options;
        MixedPrecision = options.MixedPrecision ?? ReadMixedPrecision();
        GradientAccumulationSteps = options.GradientAccumulationSteps ?? ReadInt(LaunchVariables.GradientAccumulationSteps) ?? 1;
        if (GradientAccumulationSteps < 1)
            throw new AccelerateException(RuntimeErrorCode.BadGradientAccumulationSteps, $"Gradient accumulation steps must be at least 1, not {GradientAccumulationSteps}. Set --gradient_accumulation_steps (ACCELERATE_GRADIENT_ACCUMULATION_STEPS) to 1 or more.");
        CheckParameterSyncEvery = options.CheckParameterSyncEvery ?? ReadParameterCheckInterval();
        if (CheckParameterSyncEvery < 0)
            throw new AccelerateException(RuntimeErrorCode.BadParameterCheckInterval, $"AcceleratorOptions.CheckParameterSyncEvery is {CheckParameterSyncEvery}; it must be a number of optimizer steps, or 0 to turn the check off.");
        UseCpu = options.Cpu ?? ReadBool(LaunchVariables.UseCpu);
        Device = !UseCpu && torch.cuda.is_available() ? new Device(DeviceType.CUDA, Environment.LocalRank) : torch.CPU;
        if (MixedPrecision == MixedPrecision.Fp16 && options.GradScaler.Enabled) LossScaler = new DynamicLossScaler(options.GradScaler);
    }

    /// <summary>The settings this accelerator was created with.</summary>
    public AcceleratorOptions Options { get; }

    /// <summary>Where this process stands in the job.</summary>
    public DistributedEnvironment Environment { get; }

    /// <summary>The process group, or null when running as a single process.</summary>
    public ProcessGroup? Group { get; }

    /// <summary>This process's global rank.</summary>
    public int ProcessIndex => Environment.Rank;

    /// <summary>This process's rank on its machine.</summary>
    public int LocalProcessIndex => Environment.LocalRank;

    /// <summary>Number of processes in the job.</summary>
    public int NumProcesses => Environment.WorldSize;

    /// <summary>True on global rank 0.</summary>
    public bool IsMainProcess => ProcessIndex == 0;

    /// <summary>True on local rank 0.</summary>
    public bool IsLocalMainProcess => LocalProcessIndex == 0;

    /// <summary>True on the last global rank.</summary>
    public bool IsLastProcess => ProcessIndex == NumProcesses - 1;

    /// <summary>True when more than one process takes part.</summary>
    public bool UseDistributed => Group is not null && NumProcesses > 1;

    /// <summary>The device tensors and models are placed on: <c>cuda:LOCAL_RANK</c> when CUDA is available and the CPU is not forced, else the CPU.</summary>
    public torch.Device Device { get; }

    /// <summary>True when the CPU was forced (<c>--cpu</c>, <c>ACCELERATE_USE_CPU</c>).</summary>
    public bool UseCpu { get; }

    /// <summary>Precision of the forward and backward passes.</summary>
    public MixedPrecision MixedPrecision { get; }

    /// <summary>Batches whose gradients are summed before one optimizer step.</summary>
    public int GradientAccumulationSteps { get; }

    /// <summary>Optimizer steps between two checks that every rank holds the same parameters; 0 when off (<see cref="AcceleratorOptions.CheckParameterSyncEvery"/>).</summary>
    public int CheckParameterSyncEvery { get; }

    /// <summary>fp16 loss scaling state; null unless mixed precision is fp16 and <see cref="GradScalerOptions.Enabled"/>.</summary>
    public DynamicLossScaler? LossScaler { get; }

    /// <summary>The dtype forward and backward run in under mixed precision; null without it.</summary>
    public ScalarType? ComputeType => MixedPrecision switch
    {
        MixedPrecision.Fp16 => ScalarType.Float16,
        MixedPrecision.Bf16 => ScalarType.BFloat16,
        _ => null,
    };

    /// <summary>
    /// True when the current batch ends an accumulation cycle: its backward averages gradients across
    /// ranks and the optimizer and scheduler step. False inside <see cref="NoSync"/> (without a model,
    /// or naming every prepared model) and on the first <c>k-1</c> batches of every <c>k</c> under
    /// accumulation — unless <see cref="TriggerSyncInBackward"/> makes a model synchronize all the same.
    /// With several prepared models it is true while at least one of them synchronizes.
    /// </summary>
    public bool SyncGradients => _models.Count == 0 ? _syncState : _models.Any(Syncs);

    // The accumulation cycle's (and the model-less NoSync's) verdict for the current batch, before
    // each model's own NoSync and TriggerSyncInBackward scopes.
    private bool _syncState = true;

    /// <summary>True when the last optimizer step was skipped because fp16 gradients held inf/NaN.</summary>
    public bool OptimizerStepWasSkipped { get; private set; }

    /// <summary>Optimizer steps taken (synchronizing backward passes whose step was not skipped).</summary>
    public long Step { get; private set; }

    /// <summary>True while the current batch is the last of its epoch.</summary>
    public bool EndOfDataLoader => _activeLoader?.AtLastBatch ?? false;

    private MixedPrecision ReadMixedPrecision()
    {
        var text = System.Environment.GetEnvironmentVariable(LaunchVariables.MixedPrecision);
        if (string.IsNullOrWhiteSpace(text)) return MixedPrecision.No;
        return text.Trim().ToLowerInvariant() switch
        {
            "no" or "fp32" or "none" => MixedPrecision.No,
            "fp16" => MixedPrecision.Fp16,
            "bf16" => MixedPrecision.Bf16,
            _ => throw new AccelerateException(RuntimeErrorCode.BadMixedPrecision, $"ACCELERATE_MIXED_PRECISION='{text}' is not one of no, fp16, bf16. Pass --mixed_precision no|fp16|bf16."),
        };
    }

    private static int? ReadInt(string name) => LaunchValues.Int(System.Environment.GetEnvironmentVariable, name, static (name, text) =>
        new AccelerateException(RuntimeErrorCode.BadGradientAccumulationSteps, $"The environment variable {name}='{text}' is not a whole number. Unset it or set it to a number of steps."));

    private static int ReadParameterCheckInterval() =>
        LaunchValues.Int(System.Environment.GetEnvironmentVariable, LaunchVariables.CheckParametersEvery, static (name, text) =>
            new AccelerateException(RuntimeErrorCode.BadParameterCheckInterval, $"The environment variable {name}='{text}' is not a whole number of optimizer steps, 0 or more. Set it to e.g. 100 to check every 100 steps, or to 0 (or unset it) to turn the check off."), minimum: 0) ?? 0;

    private static bool ReadBool(string name) => LaunchValues.Flag(System.Environment.GetEnvironmentVariable, name);
}
