using Accelerate.Distributed;
using Accelerate.Tracking;
using Microsoft.Extensions.Logging;

namespace Accelerate;

public partial class Accelerator
{
    private static readonly string[] KnownTrackers = ["tensorboard", "jsonl"];
    private List<ITracker>? _trackers;
    private long _logStep;

    /// <summary>
    /// Starts the trackers <see cref="AcceleratorOptions.LogWith"/> names under
    /// <see cref="LogDirectory"/>/<paramref name="projectName"/> and records <paramref name="config"/>
    /// (hyper-parameters: numbers, booleans, strings; anything else as its string) — TensorBoard shows
    /// them in its HPARAMS tab, <c>jsonl</c> writes them as the first line. Main process only, as HF's
    /// <c>init_trackers</c>; elsewhere it does nothing. Call it once, before the first <see cref="Log"/>.
    /// </summary>
    public void InitTrackers(string projectName, IReadOnlyDictionary<string, object?>? config = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(projectName);
        if (!IsMainProcess) return;
        if (_trackers is not null)
            throw new AccelerateException(RuntimeErrorCode.TrackersAlreadyStarted, $"InitTrackers('{projectName}') was called after the trackers had started (by an earlier InitTrackers or Log); call it once, before the first Log.");
        _trackers = StartTrackers(Path.Combine(LogDirectory, projectName), projectName);
        if (config is null) return;
        foreach (var tracker in _trackers) tracker.StoreInitConfiguration(config);
    }

    /// <summary>
    /// Records scalar metrics at <paramref name="step"/> (default: one more than the last) with every
    /// tracker (TensorBoard event files under <see cref="LogDirectory"/> unless
    /// <see cref="AcceleratorOptions.LogWith"/> says otherwise). With <see cref="MetricReduction.MainOnly"/>
    /// (default, as HF's <c>log</c>) the main process records its own values and the other ranks' calls
    /// do nothing. With <see cref="MetricReduction.Mean"/>, <see cref="MetricReduction.Max"/> or
    /// <see cref="MetricReduction.Sum"/> the values are first combined across ranks by an all-reduce:
    /// every rank must then call <c>Log</c> at the same point with the same metric names, or the ranks
    /// wait for each other until the collective times out.
    /// </summary>
    public void Log(IReadOnlyDictionary<string, double> metrics, int? step = null, MetricReduction reduce = MetricReduction.MainOnly)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var values = reduce == MetricReduction.MainOnly ? metrics : ReduceMetrics(metrics, reduce);
        if (!IsMainProcess) return;
        var at = step ?? _logStep;
        _logStep = at + 1;
        _trackers ??= StartTrackers(LogDirectory, project: null);
        foreach (var tracker in _trackers) tracker.Log(values, at);
    }

    /// <summary>
    /// The tracker named <paramref name="name"/> (<c>tensorboard</c>, <c>jsonl</c>), to write what
    /// <see cref="Log"/> does not (cast it to <see cref="TensorBoardTracker"/> or
    /// <see cref="JsonLinesTracker"/> for their files). On ranks other than the main process it is a
    /// tracker that records nothing, as HF's <c>get_tracker</c>. A name not in
    /// <see cref="AcceleratorOptions.LogWith"/> is error ACC2231.
    /// </summary>
    public ITracker GetTracker(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var names = TrackerNames();
        if (!names.Contains(name, StringComparer.OrdinalIgnoreCase))
            throw new AccelerateException(RuntimeErrorCode.UnknownTracker, $"no tracker named '{name}': LogWith selects [{string.Join(", ", names)}]; add '{name}' to AcceleratorOptions.LogWith (known trackers: {string.Join(", ", KnownTrackers)}, or all).");
        if (!IsMainProcess) return new BlankTracker(name.ToLowerInvariant());
        _trackers ??= StartTrackers(LogDirectory, project: null);
        return _trackers.First(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// An <see cref="ILogger"/> for <paramref name="category"/> through <see cref="AcceleratorOptions.LoggerFactory"/>
    /// (default: standard error at <c>ACCELERATE_LOG_LEVEL</c>). With <paramref name="mainProcessOnly"/>
    /// (default, as HF's <c>get_logger</c>) only the main process writes; the other ranks' entries are dropped.
    /// </summary>
    public ILogger GetLogger(string category, bool mainProcessOnly = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(category);
        var inner = Options.LoggerFactory?.CreateLogger(category) ?? new StandardErrorLogger(category, StandardErrorLogger.LevelFromEnvironment());
        return new MainProcessLogger(inner, enabled: IsMainProcess || !mainProcessOnly);
    }

    /// <summary>Where the trackers write (HF's <c>logging_dir</c>); <see cref="InitTrackers"/> adds the project's sub-folder.</summary>
    public string LogDirectory => Options.LogDirectory ?? Path.Combine(Options.ProjectDirectory ?? System.Environment.CurrentDirectory, "runs");

    private Dictionary<string, double> ReduceMetrics(IReadOnlyDictionary<string, double> metrics, MetricReduction reduce)
    {
        // Sorted so that the ranks line the values up by name, whatever order their dictionaries hold.
        var names = metrics.Keys.Order(StringComparer.Ordinal).ToArray();
        var values = names.Select(n => metrics[n]).ToArray();
        if (UseDistributed)
        {
            Group!.AllReduce<double>(values, reduce == MetricReduction.Max ? ReduceOp.Max : ReduceOp.Sum);
            if (reduce == MetricReduction.Mean)
                for (var i = 0; i < values.Length; i++) values[i] /= NumProcesses;
        }
        return names.Select((n, i) => (n, values[i])).ToDictionary(p => p.n, p => p.Item2);
    }

    private List<ITracker> StartTrackers(string directory, string? project) =>
        TrackerNames().Select(name => name switch
        {
            "tensorboard" => (ITracker)new TensorBoardTracker(directory),
            _ => new JsonLinesTracker(directory, project),
        }).ToList();

    private List<string> TrackerNames()
    {
        var requested = Options.LogWith ?? ["tensorboard"];
        var names = new List<string>();
        foreach (var raw in requested)
        {
            var name = raw?.Trim().ToLowerInvariant() ?? "";
            if (name == "all") names.AddRange(KnownTrackers);
            else if (KnownTrackers.Contains(name)) names.Add(name);
            else throw new AccelerateException(RuntimeErrorCode.UnknownTracker, $"AcceleratorOptions.LogWith names '{raw}', which is not a tracker; use {string.Join(", ", KnownTrackers)} or all.");
        }
        return names.Distinct().ToList();
    }

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
        if (_trackers is not null)
            foreach (var tracker in _trackers) tracker.Finish();
        _trackers = null;
        WaitForEveryone();
        _overlap?.Dispose();
        _overlap = null;
        DistributedState.Shutdown();
    }
}
