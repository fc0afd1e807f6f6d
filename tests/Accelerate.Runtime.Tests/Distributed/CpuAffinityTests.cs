using Accelerate.Distributed.SharedMemory;

namespace Accelerate.Runtime.Tests.Distributed;

/// <summary>
/// Which CPUs a rank binds itself to: its block of the CPUs it may use, unless whoever started it chose them already.
/// The kernel's answers (the affinity mask, the cgroup's cpuset) are the inputs; a machine with more than two CPUs
/// would be needed to see the difference in real processes.
/// </summary>
[TestClass]
public sealed class CpuAffinityTests
{
    private static readonly int[] EightCpus = [0, 1, 2, 3, 4, 5, 6, 7];

    [TestMethod]
    public void A_rank_that_may_use_every_CPU_its_cgroup_offers_takes_its_block_of_them()
    {
        CollectionAssert.AreEqual(new[] { 4, 5, 6, 7 }, CpuAffinity.Block(EightCpus, EightCpus, 1, 2));
        CollectionAssert.AreEqual(new[] { 0, 1 }, CpuAffinity.Block(EightCpus, EightCpus, 0, 4));
    }

    [TestMethod]
    public void A_rank_bound_by_srun_or_mpirun_to_part_of_its_cgroup_keeps_the_CPUs_it_was_given()
    {
        Assert.IsNull(CpuAffinity.Block([4, 5, 6, 7], EightCpus, 1, 2));
    }

    [TestMethod]
    public void Ranks_of_a_container_limited_to_some_CPUs_split_those_CPUs_between_them()
    {
        int[] container = [2, 3, 4, 5];
        CollectionAssert.AreEqual(new[] { 2, 3 }, CpuAffinity.Block(container, container, 0, 2));
        CollectionAssert.AreEqual(new[] { 4, 5 }, CpuAffinity.Block(container, container, 1, 2));
    }

    [TestMethod]
    public void Ranks_stay_unbound_when_there_are_fewer_CPUs_than_ranks()
    {
        Assert.IsNull(CpuAffinity.Block([0, 1], [0, 1], 0, 4));
    }

    [TestMethod]
    public void Without_a_readable_cgroup_the_allowed_CPUs_are_split()
    {
        CollectionAssert.AreEqual(new[] { 2, 3 }, CpuAffinity.Block([0, 1, 2, 3], null, 1, 2));
    }

    [TestMethod]
    public void Kernel_CPU_lists_with_ranges_and_single_CPUs_are_read()
    {
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 8, 10, 11 }, CpuAffinity.ParseList("0-3,8,10-11\n"));
    }
}
