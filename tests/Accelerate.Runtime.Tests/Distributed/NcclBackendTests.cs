using System.Runtime.InteropServices;
using Accelerate.Distributed.Nccl;

namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class NcclBackendTests
{
    [TestMethod]
    public void Choosing_nccl_without_cuda_fails_at_start_up_with_the_fix()
    {
        using var job = RankProcesses.StartJob(2, "join", (_, e) => e["ACCELERATE_DISTRIBUTED_BACKEND"] = "nccl");

        job.WaitForAll();

        if (job.Ranks.Any(r => r.Process.ExitCode == 0)) Assert.Inconclusive("This machine has CUDA; the error path is not reachable here.");
        foreach (var rank in job.Ranks)
        {
            StringAssert.Contains(rank.Output, "ACC2130", job.Describe());
            StringAssert.Contains(rank.Output, "ACCELERATE_DISTRIBUTED_BACKEND=auto", job.Describe());
        }
    }

    [TestMethod]
    public void A_missing_nccl_library_is_named_with_how_to_install_it()
    {
        if (NativeLibrary.TryLoad(LibNccl.LibraryName, out var handle))
        {
            NativeLibrary.Free(handle);
            Assert.Inconclusive("libnccl.so.2 is installed here; the missing-library error is not reachable.");
        }
        var joined = false;

        var error = Assert.ThrowsExactly<AccelerateException>(() => NcclProcessGroup.Create(() =>
        {
            joined = true;
            throw new InvalidOperationException("not reached");
        }, cudaAvailable: true));

        Assert.AreEqual("ACC2131", error.Code);
        StringAssert.Contains(error.Message, "libnccl.so.2");
        StringAssert.Contains(error.Message, "LD_LIBRARY_PATH");
        Assert.IsFalse(joined, "no rank waits at the rendezvous for a backend that cannot load");
    }

    [TestMethod]
    public void A_cuda_synchronize_that_never_returns_fails_after_the_collective_timeout()
    {
        // The seam is CUDA's synchronize itself: it blocks while a peer never enters the NCCL kernel.
        using var never = new ManualResetEventSlim();
        try
        {
            var started = DateTime.UtcNow;
            var error = Assert.ThrowsExactly<AccelerateException>(() => NcclProcessGroup.WaitBounded(never.Wait, TimeSpan.FromSeconds(1), "AllReduce"));

            Assert.AreEqual("ACC2112", error.Code);
            StringAssert.Contains(error.Message, "NCCL AllReduce did not complete within 1 s");
            Assert.IsLessThan(TimeSpan.FromSeconds(30), DateTime.UtcNow - started);
        }
        finally
        {
            never.Set();
        }
    }
}
