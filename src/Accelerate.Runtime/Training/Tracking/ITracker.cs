namespace Accelerate.Tracking;

/// <summary>
/// Where <see cref="Accelerator.Log"/> sends metrics: one experiment tracker (HF accelerate's
/// <c>GeneralTracker</c>). The accelerator creates its trackers on the main process only; on the
/// other ranks <see cref="Accelerator.GetTracker"/> hands out one that does nothing.
/// </summary>
public interface ITracker
{
    /// <summary>The name <see cref="AcceleratorOptions.LogWith"/> selects it by: <c>tensorboard</c>, <c>jsonl</c>.</summary>
    string Name { get; }

    /// <summary>Records the run's hyper-parameters once, before the first metrics.</summary>
    void StoreInitConfiguration(IReadOnlyDictionary<string, object?> config);

    /// <summary>Records <paramref name="metrics"/> at <paramref name="step"/>.</summary>
    void Log(IReadOnlyDictionary<string, double> metrics, long step);

    /// <summary>Flushes and closes what the tracker writes (called by <see cref="Accelerator.EndTraining"/>).</summary>
    void Finish();
}
