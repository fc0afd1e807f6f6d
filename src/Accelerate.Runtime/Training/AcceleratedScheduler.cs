using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch.optim.lr_scheduler;

namespace Accelerate;

/// <summary>
/// The scheduler <see cref="Accelerator.PrepareScheduler"/> returns: still an <see cref="LRScheduler"/>,
/// stepping the user's scheduler as HF accelerate does — not at all on accumulation steps or when the
/// optimizer step was skipped (fp16 overflow), otherwise once per process (so a schedule written for
/// one process keeps its length in samples), or once with <c>split_batches</c>.
/// </summary>
internal sealed class AcceleratedScheduler : LRScheduler
{
    private readonly LRScheduler _inner;
    private readonly Accelerator _accelerator;
    private readonly IList<double>? _lastLearningRates;

    public AcceleratedScheduler(LRScheduler inner, torch.optim.Optimizer optimizer, Accelerator accelerator)
        : base(optimizer, -1, false)
    {
        _inner = inner;
        _accelerator = accelerator;
        _lastLearningRates = get_last_lr() as IList<double>;
        Mirror();
    }

    public LRScheduler Inner => _inner;

    public override void step() => Step(() => _inner.step());

    public override void step(int? epoch) => Step(() => _inner.step(epoch));

    public override void step(double current, int? epoch = null) => Step(() => _inner.step(current, epoch));

    private void Step(Action innerStep)
    {
        if (_accelerator.Options.StepSchedulerWithOptimizer)
        {
            if (!_accelerator.SyncGradients || _accelerator.OptimizerStepWasSkipped) return;
            var times = _accelerator.Options.SplitBatches ? 1 : _accelerator.NumProcesses;
            for (var i = 0; i < times; i++) innerStep();
        }
        else innerStep();
        Mirror();
        _accelerator.AfterOptimizerStep();
    }

    /// <summary>Keeps <c>get_last_lr()</c> of this wrapper equal to the wrapped scheduler's.</summary>
    private void Mirror()
    {
        if (_lastLearningRates is null) return;
        var inner = _inner.get_last_lr()?.ToList();
        if (inner is null) return;
        for (var i = 0; i < Math.Min(inner.Count, _lastLearningRates.Count); i++) _lastLearningRates[i] = inner[i];
    }

    /// <summary>The wrapped scheduler's counters and rates (its numeric fields), as JSON.</summary>
    public string SaveState()
    {
        var state = new JsonObject();
        foreach (var field in StateFields(_inner.GetType()))
            state[field.DeclaringType!.Name + "." + field.Name] = JsonSerializer.SerializeToNode(field.GetValue(_inner), field.FieldType);
        return state.ToJsonString();
    }

    public void LoadState(string json)
    {
        var state = JsonNode.Parse(json)!.AsObject();
        foreach (var field in StateFields(_inner.GetType()))
        {
            if (!state.TryGetPropertyValue(field.DeclaringType!.Name + "." + field.Name, out var node) || node is null) continue;
            var value = node.Deserialize(field.FieldType);
            if (field.FieldType == typeof(IList<double>) && field.GetValue(_inner) is IList<double> target && value is IList<double> source)
            {
                target.Clear();
                foreach (var v in source) target.Add(v);
            }
            else field.SetValue(_inner, value);
        }
        Mirror();
    }

    private static IEnumerable<FieldInfo> StateFields(Type type)
    {
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                if (!field.IsInitOnly && (field.FieldType == typeof(int) || field.FieldType == typeof(long) || field.FieldType == typeof(double) || field.FieldType == typeof(bool) || field.FieldType == typeof(IList<double>) || field.FieldType == typeof(List<double>)))
                    yield return field;
    }
}
