using Accelerate.Distributed;
using Accelerate.Native;
using TorchSharp;

namespace Accelerate;

/// <summary>
/// Runs one training loop on one CPU, N processes or N machines: prepares the model, optimizer,
/// data and scheduler, and keeps gradients in sync. The .NET counterpart of HF accelerate's
/// <c>Accelerator</c>.
/// </summary>
public class Accelerator
{
    /// <summary>Creates an accelerator for this process, joining the job's process group if it was launched as one of several ranks.</summary>
    public Accelerator()
    {
        LibTorchLoader.EnsureLoaded();
        Environment = DistributedState.Environment;
        Group = DistributedState.Initialize();
    }

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

    /// <summary>The device tensors and models are placed on.</summary>
    public torch.Device Device => torch.CPU;
}
