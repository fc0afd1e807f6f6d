namespace Accelerate;

public partial class Accelerator
{
    /// <summary>
    /// HF's <c>distributed_type</c>: <see cref="DistributedType.No"/> for one process,
    /// <see cref="DistributedType.MultiGpu"/> when several processes train on CUDA devices,
    /// else <see cref="DistributedType.MultiCpu"/>.
    /// </summary>
    public DistributedType DistributedType => !UseDistributed ? DistributedType.No
        : Device.type == TorchSharp.DeviceType.CUDA ? DistributedType.MultiGpu : DistributedType.MultiCpu;

    /// <summary>
    /// Runs <paramref name="action"/> on the main process (global rank 0) only, as HF's
    /// <c>on_main_process</c> decorator; the other ranks skip it and do not wait. Returns whether it ran.
    /// </summary>
    public bool OnMainProcess(Action action) => RunIf(IsMainProcess, action);

    /// <summary>Runs <paramref name="function"/> on the main process only and returns its result there; the other ranks get <c>default</c>.</summary>
    public T? OnMainProcess<T>(Func<T> function) => RunIf(IsMainProcess, function);

    /// <summary>Runs <paramref name="action"/> on each machine's local main process (local rank 0) only, as HF's <c>on_local_main_process</c>. Returns whether it ran.</summary>
    public bool OnLocalMainProcess(Action action) => RunIf(IsLocalMainProcess, action);

    /// <summary>Runs <paramref name="function"/> on each machine's local main process only; the other ranks get <c>default</c>.</summary>
    public T? OnLocalMainProcess<T>(Func<T> function) => RunIf(IsLocalMainProcess, function);

    /// <summary>Runs <paramref name="action"/> on the last global rank only, as HF's <c>on_last_process</c>. Returns whether it ran.</summary>
    public bool OnLastProcess(Action action) => RunIf(IsLastProcess, action);

    /// <summary>Runs <paramref name="function"/> on the last global rank only; the other ranks get <c>default</c>.</summary>
    public T? OnLastProcess<T>(Func<T> function) => RunIf(IsLastProcess, function);

    /// <summary>
    /// Runs <paramref name="action"/> on global rank <paramref name="processIndex"/> only, as HF's
    /// <c>on_process(process_index=…)</c>; in a single process (not distributed) it always runs, as in HF.
    /// Returns whether it ran.
    /// </summary>
    public bool OnProcess(int processIndex, Action action) => RunIf(OnRank(processIndex, ProcessIndex), action);

    /// <summary>Runs <paramref name="function"/> on global rank <paramref name="processIndex"/> only; the other ranks get <c>default</c>.</summary>
    public T? OnProcess<T>(int processIndex, Func<T> function) => RunIf(OnRank(processIndex, ProcessIndex), function);

    /// <summary>
    /// Runs <paramref name="action"/> on local rank <paramref name="localProcessIndex"/> of every
    /// machine only, as HF's <c>on_local_process</c>; in a single process it always runs. Returns whether it ran.
    /// </summary>
    public bool OnLocalProcess(int localProcessIndex, Action action) => RunIf(OnRank(localProcessIndex, LocalProcessIndex), action);

    /// <summary>Runs <paramref name="function"/> on local rank <paramref name="localProcessIndex"/> of every machine only; the other ranks get <c>default</c>.</summary>
    public T? OnLocalProcess<T>(int localProcessIndex, Func<T> function) => RunIf(OnRank(localProcessIndex, LocalProcessIndex), function);

    private bool OnRank(int wanted, int mine) => !UseDistributed || wanted == mine;

    private static bool RunIf(bool run, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (run) action();
        return run;
    }

    private static T? RunIf<T>(bool run, Func<T> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return run ? function() : default;
    }
}
