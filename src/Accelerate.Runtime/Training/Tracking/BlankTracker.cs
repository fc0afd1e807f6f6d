namespace Accelerate.Tracking;

/// <summary>What <see cref="Accelerator.GetTracker"/> returns on ranks other than the main process, as HF's blank tracker: it records nothing.</summary>
internal sealed class BlankTracker(string name) : ITracker
{
    public string Name { get; } = name;

    public void StoreInitConfiguration(IReadOnlyDictionary<string, object?> config) { }

    public void Log(IReadOnlyDictionary<string, double> metrics, long step) { }

    public void Finish() { }
}
