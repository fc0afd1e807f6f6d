using Accelerate.Distributed.SharedMemory;

namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SharedMemoryTests
{
    private static readonly UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static IEnumerable<string> Segments(string directory, RankProcesses job) =>
        Directory.EnumerateFiles(directory, "accelerate-*")
            .Where(f => job.Ranks.Any(r => Path.GetFileName(f).StartsWith($"accelerate-{r.Process.Id}-", StringComparison.Ordinal)));

    [TestMethod]
    public void A_segment_is_readable_and_writable_by_its_owner_only()
    {
        var path = Path.Combine("/dev/shm", $"accelerate-test-{Guid.NewGuid():N}");
        try
        {
            using (SharedMemoryRegion.Create(path, ranks: 2, slotBytes: 4096))
                Assert.AreEqual(OwnerOnly, File.GetUnixFileMode(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void A_segment_is_never_created_over_an_existing_file()
    {
        var path = Path.Combine("/dev/shm", $"accelerate-test-{Guid.NewGuid():N}");
        File.WriteAllText(path, "someone else's");
        try
        {
            Assert.ThrowsExactly<IOException>(() => SharedMemoryRegion.Create(path, ranks: 2, slotBytes: 4096));
            Assert.AreEqual("someone else's", File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void A_rank_that_cannot_open_the_segment_makes_every_rank_of_the_machine_use_TCP_and_nothing_is_left_in_dev_shm()
    {
        using var job = new RankProcesses();
        var container = PrivateSharedMemory.Create(job, "64m");
        // Ranks 0 and 1 share the host's /dev/shm; rank 2 has its own, as in a container with --network=host.
        RankProcesses.StartJob(3, "check", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm",
            prefix: rank => rank == 2 ? container.Prefix : null, into: job);
        var ranks = job.Ranks.Skip(1).ToList();

        foreach (var rank in ranks) Assert.IsTrue(rank.WaitForExit(RankProcesses.Patience), job.Describe());

        foreach (var rank in ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "backend tcp", job.Describe());
            StringAssert.Contains(rank.Output, "PASS", job.Describe());
        }
        StringAssert.Contains(ranks[2].Output, "ACC2181", "the rank that could not open it says why");
        StringAssert.Contains(ranks[0].Output, "ACC2181", "local rank 0 says the machine uses TCP");
        Assert.IsFalse(Segments("/dev/shm", job).Any(), "the segment is removed");
    }

    [TestMethod]
    public void A_full_dev_shm_makes_the_ranks_use_TCP_instead_of_dying_of_SIGBUS()
    {
        using var job = new RankProcesses();
        // Two ranks need 4 MiB of segment; Docker's default /dev/shm is 64 MiB, this one 1 MiB.
        var container = PrivateSharedMemory.Create(job, "1m");
        RankProcesses.StartJob(2, "check", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "shm", prefix: _ => container.Prefix, into: job);
        var ranks = job.Ranks.Skip(1).ToList();

        foreach (var rank in ranks) Assert.IsTrue(rank.WaitForExit(RankProcesses.Patience), job.Describe());

        foreach (var rank in ranks)
        {
            Assert.AreEqual(0, rank.Process.ExitCode, job.Describe());
            StringAssert.Contains(rank.Output, "backend tcp", job.Describe());
        }
        StringAssert.Contains(ranks[0].Output, "ACC2180", job.Describe());
        StringAssert.Contains(ranks[0].Output, "/dev/shm", job.Describe());
        Assert.IsFalse(Segments(container.Directory, job).Any(), "the segment that did not fit is removed");
    }
}
