using Accelerate.Distributed;
using Accelerate.Distributed.Collectives;

namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class CollectiveSignatureTests
{
    private static readonly CollectiveSignature Base = CollectiveSignature.Of(CollectiveKind.AllReduce, 4, ElementType.Float32, ReduceOp.Sum);

    [TestMethod]
    public void Calls_that_differ_only_in_size_dtype_reduction_root_or_collective_have_different_signatures()
    {
        CollectiveSignature[] others =
        [
            CollectiveSignature.Of(CollectiveKind.AllReduce, 8, ElementType.Float32, ReduceOp.Sum),
            CollectiveSignature.Of(CollectiveKind.AllReduce, 4, ElementType.Int32, ReduceOp.Sum),
            CollectiveSignature.Of(CollectiveKind.AllReduce, 4, ElementType.Float32, ReduceOp.Average),
            CollectiveSignature.Of(CollectiveKind.ReduceScatter, 4, ElementType.Float32, ReduceOp.Sum),
            CollectiveSignature.Of(CollectiveKind.AllReduce, 4 + (1L << 40), ElementType.Float32, ReduceOp.Sum),
        ];

        foreach (var other in others) Assert.AreNotEqual(Base, other, other.Describe());
        Assert.AreNotEqual(CollectiveSignature.Of(CollectiveKind.Broadcast, 4, ElementType.Float32, root: 0), CollectiveSignature.Of(CollectiveKind.Broadcast, 4, ElementType.Float32, root: 1));
        Assert.AreEqual(Base, CollectiveSignature.Of(CollectiveKind.AllReduce, 4, ElementType.Float32, ReduceOp.Sum));
    }

    [TestMethod]
    public void A_signature_describes_the_call_it_stands_for()
    {
        Assert.AreEqual("AllReduce(Sum) of 4 float32", Base.Describe());
        Assert.AreEqual("Broadcast(source=3) of 4294967296 float64", CollectiveSignature.Of(CollectiveKind.Broadcast, 1L << 32, ElementType.Float64, root: 3).Describe());
        Assert.AreEqual("Gather(destination=1) of rows of 3 bfloat16", CollectiveSignature.Of(CollectiveKind.Gather, 3, ElementType.BFloat16, root: 1).Describe());
        Assert.AreEqual("Barrier", CollectiveSignature.Of(CollectiveKind.Barrier, 0).Describe());
    }

    [TestMethod]
    public void A_mismatch_is_ACC2110_naming_both_calls()
    {
        var error = Base.Mismatch(CollectiveSignature.Of(CollectiveKind.AllReduce, 8, ElementType.Float32, ReduceOp.Sum), 0, "rank 1 (host, pid 7)");

        Assert.AreEqual("ACC2110", error.Code);
        StringAssert.Contains(error.Message, "rank 0 called AllReduce(Sum) of 4 float32, but rank 1 (host, pid 7) called AllReduce(Sum) of 8 float32");
    }
}
