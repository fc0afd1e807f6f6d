using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Accelerate.Distributed;
using Accelerate.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class FlatGradientsTests
{
    [TestMethod]
    public void A_gradient_of_a_mebibyte_or_more_is_all_reduced_where_it_lies_and_the_small_ones_through_one_flat_buffer()
    {
        LibTorchLoader.EnsureLoaded();
        using var large = torch.zeros(512, 512).requires_grad_(); // 1 MiB of float32
        using var small = torch.zeros(16, 8).requires_grad_();
        using var bias = torch.zeros(16).requires_grad_();
        large.grad = torch.full(512, 512, 2f);
        small.grad = torch.full(16, 8, 4f);
        bias.grad = torch.full(16, 6f);
        var group = new RecordingGroup(large.grad!);

        new FlatGradients([large, small, bias], ScalarType.Float32).Average(group);

        Assert.HasCount(2, group.Calls, "one call for the large gradient, one for the flat buffer of the others");
        Assert.IsTrue(group.Calls[0].InWatchedMemory, "the large gradient itself is all-reduced, not a copy of it");
        Assert.AreEqual(512L * 512, group.Calls[0].Elements);
        Assert.AreEqual(16L * 8 + 16, group.Calls[1].Elements, "the flat buffer holds only the small gradients");
        Assert.IsTrue(group.Calls.All(c => c.Op == ReduceOp.Average));
        // The recording group halves what it is given, as an average with a rank holding zeros would.
        Assert.IsTrue(large.grad!.eq(1f).all().item<bool>());
        Assert.IsTrue(small.grad!.eq(2f).all().item<bool>());
        Assert.IsTrue(bias.grad!.eq(3f).all().item<bool>());
    }

    /// <summary>
    /// The seam under FlatGradients: records each all-reduce (and whether it was handed the memory
    /// of <paramref name="watched"/>) and halves the tensor in place.
    /// </summary>
    private sealed class RecordingGroup(Tensor watched) : ProcessGroup
    {
        public List<(bool InWatchedMemory, long Elements, ReduceOp Op)> Calls { get; } = [];

        public override int Rank => 0;

        public override int WorldSize => 2;

        public override void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
        {
            var same = Unsafe.AreSame(ref MemoryMarshal.GetReference(tensor.bytes), ref MemoryMarshal.GetReference(watched.bytes));
            Calls.Add((same, tensor.numel(), op));
            tensor.div_(2);
        }

        public override void Broadcast(Tensor tensor, int source = 0) => throw new NotSupportedException();

        public override Tensor[] AllGather(Tensor tensor) => throw new NotSupportedException();

        public override Tensor[]? Gather(Tensor tensor, int destination = 0) => throw new NotSupportedException();

        public override Tensor ReduceScatter(Tensor input, ReduceOp op = ReduceOp.Sum) => throw new NotSupportedException();

        public override void Barrier() => throw new NotSupportedException();

        public override T BroadcastObject<T>(T value, int source = 0) => throw new NotSupportedException();

        public override T[] AllGatherObject<T>(T value) => throw new NotSupportedException();

        public override void Dispose()
        {
        }
    }
}
