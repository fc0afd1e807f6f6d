using Accelerate.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// A process group written outside this library (a subclass of <see cref="ProcessGroup"/> that implements only the
/// allocating gathers) gets the gathers into the caller's tensors from them, with the same output checks.
/// </summary>
[TestClass]
public sealed class ProcessGroupGatherIntoDefaultsTests
{
    [TestMethod]
    public void AllGatherInto_fills_the_output_from_the_allocating_all_gather()
    {
        using var group = new ThirdPartyGroup();
        using var input = torch.arange(6, ScalarType.Float32).reshape(2, 3);
        using var output = torch.full(new long[] { 6, 3 }, -1f);

        group.AllGatherInto(output, input);

        using var expected = torch.cat(new[] { input + 0, input + 100, input + 200 }, 0);
        Assert.IsTrue(output.eq(expected).all().item<bool>(), string.Join(", ", output.data<float>().ToArray()));
    }

    [TestMethod]
    public void Gather_into_outputs_fills_them_on_the_destination_and_leaves_them_alone_elsewhere()
    {
        using var group = new ThirdPartyGroup();
        using var input = torch.ones(4);
        var outputs = Enumerable.Range(0, 3).Select(_ => torch.zeros(4)).ToArray();

        group.Gather(input, outputs, destination: 1);
        group.GatherInto(null, input, destination: 0);

        for (var r = 0; r < 3; r++) Assert.IsTrue(outputs[r].eq(1 + 100 * r).all().item<bool>(), $"outputs[{r}]");
        Assert.AreEqual(1, group.GathersTo0);
    }

    [TestMethod]
    public void A_wrong_output_fails_before_the_collective_with_its_code()
    {
        using var group = new ThirdPartyGroup();
        using var input = torch.ones(2, 3);

        var count = Assert.ThrowsExactly<AccelerateException>(() => group.AllGather([torch.empty(2, 3)], input));
        var shape = Assert.ThrowsExactly<AccelerateException>(() => group.AllGatherInto(torch.empty(6, 2), input));

        Assert.AreEqual(RuntimeErrorCode.GatherOutputCount, count.Code);
        Assert.AreEqual(RuntimeErrorCode.GatherOutputShape, shape.Code);
        Assert.AreEqual(0, group.AllGathers);
    }

    /// <summary>Rank 1 of 3, whose peers' tensors are its own plus 100 times their rank.</summary>
    private sealed class ThirdPartyGroup : ProcessGroup
    {
        public int AllGathers { get; private set; }

        public int GathersTo0 { get; private set; }

        public override int Rank => 1;

        public override int WorldSize => 3;

        public override Tensor[] AllGather(Tensor tensor)
        {
            AllGathers++;
            return Enumerable.Range(0, 3).Select(r => tensor + 100 * r).ToArray();
        }

        public override Tensor[]? Gather(Tensor tensor, int destination = 0)
        {
            if (destination != Rank)
            {
                GathersTo0++;
                return null;
            }
            return AllGather(tensor);
        }

        public override void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum) => throw new NotSupportedException();

        public override void Broadcast(Tensor tensor, int source = 0) => throw new NotSupportedException();

        public override Tensor ReduceScatter(Tensor input, ReduceOp op = ReduceOp.Sum) => throw new NotSupportedException();

        public override void Barrier() => throw new NotSupportedException();

        public override T BroadcastObject<T>(T value, int source = 0) => throw new NotSupportedException();

        public override T[] AllGatherObject<T>(T value) => throw new NotSupportedException();

        public override void Dispose()
        {
        }
    }
}
