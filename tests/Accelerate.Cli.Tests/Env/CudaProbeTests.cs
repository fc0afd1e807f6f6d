using Accelerate.Cli.Env;

namespace Accelerate.Cli.Tests.Env;

[TestClass]
public sealed class CudaProbeTests
{
    private static string NewFolder()
    {
        var path = Path.Combine(Path.GetTempPath(), "accelerate-cuda-probe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static void WriteFakeNvidiaSmi(string folder, string body)
    {
        var path = Path.Combine(folder, "nvidia-smi");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (OperatingSystem.IsWindows()) Assert.Inconclusive("The fake nvidia-smi is a shell script.");
        else File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    [TestMethod]
    public void Gpus_listed_by_nvidia_smi_make_cuda_available_when_the_driver_library_loads()
    {
        var folder = NewFolder();
        try
        {
            // nvidia-smi is replaced by a script that must be asked for the CSV query the probe relies on.
            WriteFakeNvidiaSmi(folder, """
                [ "$1" = "--query-gpu=index,name,memory.total" ] && [ "$2" = "--format=csv,noheader" ] || exit 9
                echo "0, NVIDIA A100-SXM4-80GB, 81920 MiB"
                echo "1, Tesla T4, 15360 MiB"
                """);

            var status = CudaProbe.Detect(new CudaProbeSources(Path.Combine(folder, "no-proc"), () => true, folder));

            Assert.IsTrue(status.Available);
            CollectionAssert.AreEqual(new[] { "0: NVIDIA A100-SXM4-80GB (81920 MiB)", "1: Tesla T4 (15360 MiB)" }, status.Gpus.ToArray());
            Assert.AreEqual("2 GPU(s) found", status.Reason);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [TestMethod]
    public void Without_nvidia_smi_the_driver_proc_tree_names_the_gpus_and_the_driver()
    {
        var folder = NewFolder();
        try
        {
            var proc = Path.Combine(folder, "nvidia");
            Directory.CreateDirectory(Path.Combine(proc, "gpus", "0000:3b:00.0"));
            File.WriteAllText(Path.Combine(proc, "version"), "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n");
            File.WriteAllText(Path.Combine(proc, "gpus", "0000:3b:00.0", "information"), "Model: \t\t Tesla V100-SXM2-32GB\nIRQ:   \t\t 112\n");

            var status = CudaProbe.Detect(new CudaProbeSources(proc, () => true, Path.Combine(folder, "empty-path")));

            Assert.IsTrue(status.Available);
            Assert.AreEqual("535.104.05", status.DriverVersion);
            CollectionAssert.AreEqual(new[] { "Tesla V100-SXM2-32GB" }, status.Gpus.ToArray());
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [TestMethod]
    public void Gpus_without_a_loadable_driver_library_are_not_usable()
    {
        var folder = NewFolder();
        try
        {
            WriteFakeNvidiaSmi(folder, "echo \"0, Tesla T4, 15360 MiB\"");

            var status = CudaProbe.Detect(new CudaProbeSources(Path.Combine(folder, "no-proc"), () => false, folder));

            Assert.IsFalse(status.Available);
            Assert.AreEqual(1, status.Gpus.Count);
            StringAssert.Contains(status.Reason, "libcuda.so.1");
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [TestMethod]
    public void A_failing_nvidia_smi_and_no_proc_tree_mean_no_gpu()
    {
        var folder = NewFolder();
        try
        {
            WriteFakeNvidiaSmi(folder, "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.' >&2; exit 9");

            var status = CudaProbe.Detect(new CudaProbeSources(Path.Combine(folder, "no-proc"), () => true, folder));

            Assert.IsFalse(status.Available);
            Assert.AreEqual(0, status.Gpus.Count);
            Assert.AreEqual("the CUDA driver loads but lists no GPU", status.Reason);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [TestMethod]
    public void This_machine_is_probed_without_error()
    {
        var status = CudaProbe.Detect(CudaProbeSources.System);

        if (Directory.Exists("/proc/driver/nvidia")) Assert.Inconclusive("This machine has an NVIDIA driver; the CPU-only expectation does not apply.");
        Assert.IsFalse(status.Available);
        Assert.AreEqual(0, status.Gpus.Count);
    }
}
