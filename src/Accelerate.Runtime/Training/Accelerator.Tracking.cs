using Accelerate.Distributed;
using TorchSharp;
using TorchSharp.Modules;

namespace Accelerate;

public partial class Accelerator
{
    private SummaryWriter? _writer;
    private int _logStep;

    /// <summary>
    /// Records scalar metrics at <paramref name="step"/> (default: one more than the last) as
    /// TensorBoard event files under <see cref="AcceleratorOptions.LogDirectory"/> (default
    /// <c>runs</c> under the project directory). Main process only; elsewhere it does nothing.
    /// </summary>
    public void Log(IReadOnlyDictionary<string, double> metrics, int? step = null)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (!IsMainProcess) return;
        var at = step ?? _logStep;
        _logStep = at + 1;
        _writer ??= torch.utils.tensorboard.SummaryWriter(LogDirectory, createRunName: false);
        foreach (var (name, value) in metrics) _writer.add_scalar(name, (float)value, at);
    }

    /// <summary>Where <see cref="Log"/> writes its event files.</summary>
    public string LogDirectory => Options.LogDirectory ?? Path.Combine(Options.ProjectDirectory ?? System.Environment.CurrentDirectory, "runs");

    /// <summary>
    /// A progress bar over <paramref name="total"/> steps on the main process (live in a terminal,
    /// plain lines when output is redirected); on the other ranks it shows nothing.
    /// </summary>
    public TrainingProgress Progress(long total, string description = "training")
        => new(total, description, enabled: IsMainProcess);

    /// <summary>Ends the run: closes the trackers, waits for every rank and leaves the process group.</summary>
    public void EndTraining()
    {
        AfterOptimizerStep();
        StopListeningForPreemption();
        _writer = null;
        WaitForEveryone();
        _overlap?.Dispose();
        _overlap = null;
        DistributedState.Shutdown();
    }
}
