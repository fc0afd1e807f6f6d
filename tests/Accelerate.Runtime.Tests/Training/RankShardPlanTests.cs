namespace Accelerate.Runtime.Tests.Training;

[TestClass]
public sealed class RankShardPlanTests
{
    [TestMethod]
    [DataRow(3L, 1, true, new[] { 1, 1 }, new[] { 1, 1 })]
    [DataRow(7L, 2, true, new[] { 2, 2 }, new[] { 2, 2 })]
    [DataRow(3L, 1, false, new[] { 1, 1 }, new[] { 1 })]
    [DataRow(7L, 2, false, new[] { 2, 2 }, new[] { 2, 1 })]
    public void Batch_sizes_per_rank_follow_even_batches_as_HF_accelerate(long size, int batch, bool even, int[] rank0, int[] rank1)
    {
        CollectionAssert.AreEqual(rank0, BatchSizes(new RankShardPlan(size, batch, 0, 2, false, 0, 0, even, false)));
        CollectionAssert.AreEqual(rank1, BatchSizes(new RankShardPlan(size, batch, 1, 2, false, 0, 0, even, false)));
    }

    [TestMethod]
    [DataRow(10L, 2, 3)]
    [DataRow(32L, 4, 2)]
    [DataRow(17L, 3, 4)]
    public void Every_sample_is_read_once_per_epoch_plus_padding_taken_from_the_start(long size, int batch, int world)
    {
        for (var epoch = 0; epoch < 3; epoch++)
        {
            var plans = Enumerable.Range(0, world).Select(r => new RankShardPlan(size, batch, r, world, true, 5, epoch, true, false)).ToList();
            var read = plans.SelectMany(p => p.LocalIndices()).ToList();
            var padding = plans[0].GlobalSamples - size;

            CollectionAssert.AreEquivalent(Enumerable.Range(0, (int)size).Select(i => (long)i).ToList(), read.Distinct().ToList());
            Assert.AreEqual(plans[0].GlobalSamples, read.Count);
            Assert.IsTrue(padding < batch * world, $"padding {padding} is less than one global step");
            Assert.IsTrue(plans.All(p => p.LocalBatches == plans[0].LocalBatches), "every rank takes the same number of steps");
        }
    }

    [TestMethod]
    public void Rank_r_reads_batches_r_r_plus_n_of_the_epoch_order()
    {
        var single = new RankShardPlan(12, 2, 0, 1, true, 9, 0, true, false).LocalIndices().ToList();
        var rank1 = new RankShardPlan(12, 2, 1, 3, true, 9, 0, true, false).LocalIndices().ToList();

        CollectionAssert.AreEqual(new[] { single[2], single[3], single[8], single[9] }, rank1);
    }

    [TestMethod]
    public void The_shuffle_is_seeded_the_same_for_every_world_size_and_changes_per_epoch()
    {
        var epoch0 = new RankShardPlan(50, 5, 0, 1, true, 42, 0, true, false).LocalIndices().ToList();
        var again = new RankShardPlan(50, 5, 0, 1, true, 42, 0, true, false).LocalIndices().ToList();
        var epoch1 = new RankShardPlan(50, 5, 0, 1, true, 42, 1, true, false).LocalIndices().ToList();
        var otherSeed = new RankShardPlan(50, 5, 0, 1, true, 43, 0, true, false).LocalIndices().ToList();

        CollectionAssert.AreEqual(epoch0, again);
        CollectionAssert.AreNotEqual(epoch0, epoch1);
        CollectionAssert.AreNotEqual(epoch0, otherSeed);
        CollectionAssert.AreNotEqual(Enumerable.Range(0, 50).Select(i => (long)i).ToList(), epoch0);
    }

    [TestMethod]
    public void The_last_step_remainder_counts_the_real_samples_of_the_padded_last_step()
    {
        var plan = new RankShardPlan(10, 2, 0, 3, false, 0, 0, true, false);

        Assert.AreEqual(2, plan.LocalBatches);
        Assert.AreEqual(4, plan.LastStepRemainder);
    }

    [TestMethod]
    public void A_batch_size_of_zero_is_refused_with_the_fix()
    {
        var error = Assert.ThrowsExactly<AccelerateException>(() => new RankShardPlan(10, 0, 0, 1, false, 0, 0, true, false));
        StringAssert.Contains(error.Message, "batch size");
    }

    private static int[] BatchSizes(RankShardPlan plan)
    {
        var sizes = new List<int>();
        for (long left = plan.LocalSamples; left > 0; left -= plan.BatchSize) sizes.Add((int)Math.Min(plan.BatchSize, left));
        return sizes.ToArray();
    }
}
