using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim.lr_scheduler;

namespace Accelerate;

public partial class Accelerator
{
    /// <summary>
    /// Prepares any set of objects in one call, as HF accelerate's <c>prepare(*args)</c>: two models
    /// and two optimizers, a data loader alone, … Returns an array of the same length and order, each
    /// item prepared by its kind: a module as <see cref="PrepareModel{TModule}"/>, an optimizer as
    /// <see cref="PrepareOptimizer{TOptimizer}"/>, a <see cref="DataLoader{T, S}"/> as
    /// <see cref="PrepareDataLoader{T, S}"/> (the prepared loader takes its place), a scheduler as
    /// <see cref="PrepareScheduler"/>; anything else comes back unchanged. Models are prepared first,
    /// then loaders, optimizers and schedulers, whatever the order given, so that an optimizer
    /// updates the fp32 masters of a model passed after it and a scheduler finds its optimizer.
    /// A scheduler is paired with the optimizer it was built on when that one is prepared, else with
    /// the optimizer prepared last.
    /// </summary>
    public object[] Prepare(params object[] items)
    {
        ArgumentNullException.ThrowIfNull(items);
        for (var i = 0; i < items.Length; i++)
            if (items[i] is null) throw new ArgumentNullException(nameof(items), $"Item {i} of the objects to prepare is null.");
        var prepared = (object[])items.Clone();
        PrepareEach(prepared, o => o is nn.Module, o => PrepareModel((nn.Module)o));
        PrepareEach(prepared, o => LoaderTypes(o) is not null, PrepareAnyDataLoader);
        PrepareEach(prepared, o => o is optim.Optimizer, o => PrepareOptimizer((optim.Optimizer)o));
        PrepareEach(prepared, o => o is LRScheduler, o => PrepareScheduler((LRScheduler)o));
        return prepared;
    }

    private static void PrepareEach(object[] items, Func<object, bool> isKind, Func<object, object> prepare)
    {
        for (var i = 0; i < items.Length; i++)
            if (isKind(items[i])) items[i] = prepare(items[i]);
    }

    private object PrepareAnyDataLoader(object loader)
    {
        var types = LoaderTypes(loader)!;
        var method = typeof(Accelerator).GetMethod(nameof(PrepareDataLoader))!.MakeGenericMethod(types);
        try
        {
            return method.Invoke(this, new[] { loader, null })!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    /// <summary>The <c>T, S</c> of the <see cref="DataLoader{T, S}"/> an object is, or null.</summary>
    private static Type[]? LoaderTypes(object item)
    {
        for (var type = item.GetType(); type is not null; type = type.BaseType)
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(DataLoader<,>))
                return type.GetGenericArguments();
        return null;
    }

    /// <summary>The optimizer a scheduler was built on, when it is one this accelerator prepared.</summary>
    private optim.Optimizer? OptimizerOf(LRScheduler scheduler)
    {
        for (var type = scheduler.GetType(); type is not null; type = type.BaseType)
        {
            var field = type.GetField("_optimizer", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly);
            if (field?.GetValue(scheduler) is optim.Optimizer optimizer)
                return _optimizers.FirstOrDefault(o => ReferenceEquals(o, optimizer));
        }
        return null;
    }
}
