using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class GatheringTests
{
    private readonly Accelerator _accelerator = new(new AcceleratorOptions { MixedPrecision = MixedPrecision.No });

    [TestMethod]
    public void Gather_of_a_nested_structure_returns_the_same_structure_of_new_tensors()
    {
        var logits = torch.ones(2, 3);
        var data = new Dictionary<string, object>
        {
            ["logits"] = logits,
            ["pair"] = (torch.zeros(2), new List<Tensor> { torch.arange(2) }),
            ["array"] = new[] { torch.tensor(5.0f) },
        };

        var gathered = _accelerator.Gather(data);

        Assert.AreNotSame(data, gathered);
        CollectionAssert.AreEqual(new[] { "logits", "pair", "array" }, gathered.Keys.ToArray());
        var gatheredLogits = (Tensor)gathered["logits"];
        Assert.AreNotSame(logits, gatheredLogits);
        Assert.IsTrue(gatheredLogits.allclose(logits));
        var (zeros, list) = ((Tensor, List<Tensor>))gathered["pair"];
        Assert.AreEqual(2L, zeros.shape[0]);
        Assert.HasCount(1, list);
        CollectionAssert.AreEqual(new long[] { 1 }, ((Tensor[])gathered["array"])[0].shape, "a scalar becomes one row, as Gather(tensor) does");
    }

    [TestMethod]
    public void Reduce_and_pad_keep_a_tuple_of_tensors_a_tuple()
    {
        var (sum, count) = _accelerator.Reduce((torch.tensor(3.0f), torch.tensor(4L)));
        var (padded, other) = _accelerator.PadAcrossProcesses((torch.ones(2, 2), torch.ones(3)), padIndex: -1);

        Assert.AreEqual(3.0f, sum.ToSingle());
        Assert.AreEqual(4L, count.ToInt64());
        CollectionAssert.AreEqual(new long[] { 2, 2 }, padded.shape, "one process: nothing to pad to");
        CollectionAssert.AreEqual(new long[] { 3 }, other.shape);
    }

    [TestMethod]
    public void A_leaf_that_is_not_a_tensor_is_refused_with_its_path()
    {
        var data = new Dictionary<string, object> { ["loss"] = torch.ones(1), ["labels"] = new List<object> { torch.ones(1), "cat" } };

        var error = Assert.ThrowsExactly<AccelerateException>(() => _accelerator.Gather(data));

        Assert.AreEqual("ACC2280", error.Code);
        StringAssert.Contains(error.Message, "data[\"labels\"][1]");
        StringAssert.Contains(error.Message, "String");
        StringAssert.Contains(error.Message, "GatherObject");
    }

    [TestMethod]
    public void GatherObject_in_one_process_is_a_list_of_the_object()
    {
        var record = new Prediction(3, "cat");

        var all = _accelerator.GatherObject(record);

        Assert.HasCount(1, all);
        Assert.AreEqual(record, all[0]);
    }

    [TestMethod]
    public void GatherForMetrics_of_a_list_of_numbers_returns_a_list_of_the_same_type()
    {
        var gathered = _accelerator.GatherForMetrics(new List<int> { 1, 2, 3 });

        CollectionAssert.AreEqual(new List<int> { 1, 2, 3 }, gathered);
    }

    public sealed record Prediction(int Index, string Label);

    [TestMethod]
    public void A_parameter_is_gathered_and_reduced_as_a_tensor()
    {
        var weight = nn.Linear(2, 3).weight!;

        Tensor gathered = _accelerator.Gather(weight);
        Tensor reduced = _accelerator.Reduce(weight);

        Assert.IsTrue(gathered.allclose(weight) && reduced.allclose(weight));
        Assert.IsNotInstanceOfType<TorchSharp.Modules.Parameter>(gathered);
    }
}
