using System.Collections;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Accelerate.Distributed;
using static TorchSharp.torch;

namespace Accelerate;

public partial class Accelerator
{
    /// <summary>
    /// <see cref="Gather(Tensor)"/> over a nested structure, as HF's <c>gather</c>: every tensor in
    /// dictionaries, lists, arrays and tuples (e.g. <c>Dictionary&lt;string, Tensor&gt;</c>,
    /// <c>(Tensor logits, Tensor labels)</c>) is gathered along dim 0 in rank order; the result has
    /// the same shape and types. Every rank must pass the same structure (the same keys in the same
    /// order). Anything but a tensor at a leaf is ACC2280; gather other objects with
    /// <see cref="GatherObject{T}"/>.
    /// </summary>
    public T Gather<T>(T data) => MapTensors(data, nameof(Gather), Gather);

    /// <summary>
    /// <see cref="Reduce(Tensor, ReduceOp)"/> over a nested structure of tensors (dictionaries, lists,
    /// arrays, tuples), as HF's <c>reduce</c>: every tensor is combined over all ranks; the inputs are left unchanged.
    /// </summary>
    public T Reduce<T>(T data, ReduceOp reduction = ReduceOp.Sum) => MapTensors(data, nameof(Reduce), t => Reduce(t, reduction));

    /// <summary>
    /// <see cref="PadAcrossProcesses(Tensor, int, double, bool)"/> over a nested structure of tensors
    /// (dictionaries, lists, arrays, tuples), as HF's <c>pad_across_processes</c>: each tensor is padded
    /// along <paramref name="dim"/> to the largest size any rank has for that tensor.
    /// </summary>
    public T PadAcrossProcesses<T>(T data, int dim = 0, double padIndex = 0, bool padFirst = false)
        => MapTensors(data, nameof(PadAcrossProcesses), t => PadAcrossProcesses(t, dim, padIndex, padFirst));

    /// <summary>
    /// <see cref="GatherForMetrics(Tensor)"/> over a nested structure, as HF's <c>gather_for_metrics</c>:
    /// every tensor is gathered along dim 0 and, on the last batch of a prepared loader's epoch, cut
    /// to the samples of the dataset, dropping the duplicates <see cref="AcceleratorOptions.EvenBatches"/>
    /// added to pad the ranks. A list or array of other objects (no tensor in it) is gathered as
    /// JSON, every rank's items concatenated in rank order and cut the same way, as HF does with
    /// <c>gather_object</c> for non-tensors.
    /// </summary>
    public T GatherForMetrics<T>(T data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var keep = _activeLoader is { AtLastBatch: true } loader ? loader.Remainder : 0;
        if (data is IList list and not Tensor && !ContainsTensor(list)) return (T)GatherListForMetrics(list, keep);
        return MapTensors(data, nameof(GatherForMetrics), tensor =>
        {
            var gathered = Gather(tensor);
            if (keep <= 0 || keep >= gathered.shape[0]) return gathered;
            var trimmed = gathered.narrow(0, 0, keep).clone();
            gathered.Dispose();
            return trimmed;
        });
    }

    /// <summary>
    /// Every rank's <paramref name="value"/>, in rank order, on every rank, as HF's
    /// <c>gather_object</c>: any object System.Text.Json can write and read back as
    /// <typeparamref name="T"/> (records, lists, dictionaries, numbers, strings). Unlike HF, a list is
    /// not flattened: the result holds one entry per rank (<c>SelectMany</c> concatenates lists). In a
    /// single process it holds <paramref name="value"/> itself.
    /// </summary>
    public IReadOnlyList<T> GatherObject<T>(T value)
    {
        if (Group is null || !UseDistributed) return new[] { value };
        return Group.AllGatherObject(value);
    }

    // A parameter is a tensor: these keep it from binding to the structure overloads, whose result
    // would have to be a Parameter again.

    /// <summary><see cref="Gather(Tensor)"/> of a parameter.</summary>
    public Tensor Gather(TorchSharp.Modules.Parameter parameter) => Gather((Tensor)parameter);

    /// <summary><see cref="Reduce(Tensor, ReduceOp)"/> of a parameter.</summary>
    public Tensor Reduce(TorchSharp.Modules.Parameter parameter, ReduceOp reduction = ReduceOp.Sum) => Reduce((Tensor)parameter, reduction);

    /// <summary><see cref="PadAcrossProcesses(Tensor, int, double, bool)"/> of a parameter.</summary>
    public Tensor PadAcrossProcesses(TorchSharp.Modules.Parameter parameter, int dim = 0, double padIndex = 0, bool padFirst = false) => PadAcrossProcesses((Tensor)parameter, dim, padIndex, padFirst);

    /// <summary><see cref="GatherForMetrics(Tensor)"/> of a parameter.</summary>
    public Tensor GatherForMetrics(TorchSharp.Modules.Parameter parameter) => GatherForMetrics((Tensor)parameter);

    private object GatherListForMetrics(IList list, long keep)
    {
        var type = list.GetType();
        var parts = Group is null || !UseDistributed
            ? new[] { list }
            : Group.AllGatherObject(JsonSerializer.Serialize(list, type)).Select(json => (IList)JsonSerializer.Deserialize(json, type)!).ToArray();
        var items = parts.SelectMany(p => p.Cast<object?>()).ToList();
        if (keep > 0 && keep < items.Count) items = items.Take((int)keep).ToList();
        if (type.IsArray)
        {
            var array = Array.CreateInstance(type.GetElementType()!, items.Count);
            for (var i = 0; i < items.Count; i++) array.SetValue(items[i], i);
            return array;
        }
        var result = (IList)Activator.CreateInstance(type)!;
        foreach (var item in items) result.Add(item);
        return result;
    }

    private static bool ContainsTensor(object? node) => node switch
    {
        Tensor => true,
        IDictionary dictionary => dictionary.Values.Cast<object?>().Any(ContainsTensor),
        ITuple tuple => Enumerable.Range(0, tuple.Length).Any(i => ContainsTensor(tuple[i])),
        IEnumerable items and not string => items.Cast<object?>().Any(ContainsTensor),
        _ => false,
    };

    /// <summary>The same structure with every tensor replaced by <paramref name="map"/> of it, visited in a fixed order (so collectives line up across ranks).</summary>
    private static T MapTensors<T>(T data, string operation, Func<Tensor, Tensor> map)
    {
        ArgumentNullException.ThrowIfNull(data);
        return (T)Map(data, "data", operation, map);
    }

    private static object Map(object? node, string path, string operation, Func<Tensor, Tensor> map)
    {
        switch (node)
        {
            case Tensor tensor:
                return map(tensor);
            case IDictionary dictionary when HasDefaultConstructor(node.GetType()):
            {
                var copy = (IDictionary)Activator.CreateInstance(node.GetType())!;
                foreach (DictionaryEntry entry in dictionary) copy.Add(entry.Key, Map(entry.Value, $"{path}[\"{entry.Key}\"]", operation, map));
                return copy;
            }
            case Array array when array.Rank == 1:
            {
                var copy = Array.CreateInstance(array.GetType().GetElementType()!, array.Length);
                for (var i = 0; i < array.Length; i++) copy.SetValue(Map(array.GetValue(i), $"{path}[{i}]", operation, map), i);
                return copy;
            }
            case IList list when HasDefaultConstructor(node.GetType()):
            {
                var copy = (IList)Activator.CreateInstance(node.GetType())!;
                for (var i = 0; i < list.Count; i++) copy.Add(Map(list[i], $"{path}[{i}]", operation, map));
                return copy;
            }
            case ITuple tuple when tuple.Length <= 7:
            {
                var items = new object[tuple.Length];
                for (var i = 0; i < tuple.Length; i++) items[i] = Map(tuple[i], $"{path}.Item{i + 1}", operation, map);
                return Activator.CreateInstance(node.GetType(), items)!;
            }
            default:
                var what = node is null ? "null" : $"a {node.GetType().Name}";
                throw new AccelerateException(RuntimeErrorCode.NotATensorLeaf, $"{operation} was given {what} at {path}, which is not a tensor. It takes a tensor, or dictionaries, lists, arrays and tuples (of up to 7 items) of tensors; gather other objects with GatherObject, or convert them to tensors first.");
        }
    }

    private static bool HasDefaultConstructor(Type type) => type.GetConstructor(Type.EmptyTypes) is not null;
}
