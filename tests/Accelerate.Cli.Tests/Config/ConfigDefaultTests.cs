using Accelerate.Configuration;

namespace Accelerate.Cli.Tests.Config;

[TestClass]
public sealed class ConfigDefaultTests
{
    [TestMethod]
    public void A_cpu_only_machine_gets_one_process_on_the_cpu()
    {
        using var session = new CliSession(gpus: 0);

        Assert.AreEqual(0, session.Config("default"), session.Error.ToString());

        var config = ConfigFile.Load(session.DefaultFile);
        Assert.AreEqual(DistributedType.No, config.DistributedType);
        Assert.AreEqual(1, config.NumProcesses);
        Assert.IsTrue(config.UseCpu);
        Assert.AreEqual(MixedPrecision.No, config.MixedPrecision);
        Assert.AreEqual(ComputeEnvironment.LocalMachine, config.ComputeEnvironment);
        Assert.IsFalse(config.Debug);
        Assert.IsFalse(config.EnableCpuAffinity);
        Assert.AreEqual($"accelerate configuration saved at {session.DefaultFile}", session.Out.ToString().Trim());
    }

    [TestMethod]
    public void One_gpu_means_one_process_on_the_gpu_and_several_mean_multi_gpu_over_all_of_them()
    {
        using (var one = new CliSession(gpus: 1))
        {
            Assert.AreEqual(0, one.Config("default"));
            var config = ConfigFile.Load(one.DefaultFile);
            Assert.AreEqual((DistributedType.No, 1, false), (config.DistributedType, config.NumProcesses, config.UseCpu));
        }
        using var four = new CliSession(gpus: 4);
        Assert.AreEqual(0, four.Config("default", "--mixed_precision", "fp16"));
        var multi = ConfigFile.Load(four.DefaultFile);
        Assert.AreEqual((DistributedType.MultiGpu, 4, false, MixedPrecision.Fp16), (multi.DistributedType, multi.NumProcesses, multi.UseCpu, multi.MixedPrecision));
    }

    [TestMethod]
    public void An_existing_file_is_left_alone_unless_force_is_passed()
    {
        using var session = new CliSession();
        Directory.CreateDirectory(Path.GetDirectoryName(session.DefaultFile)!);
        File.WriteAllText(session.DefaultFile, "distributed_type: MULTI_CPU\n");

        Assert.AreEqual(1, session.Config("default"));
        Assert.AreEqual("distributed_type: MULTI_CPU\n", File.ReadAllText(session.DefaultFile));
        StringAssert.Contains(session.Error.ToString(), $"{session.DefaultFile}: error ACC2407: a config file already exists here; it was left unchanged. Pass --force to overwrite it");
        Assert.AreEqual(0, session.CudaProbes, "nothing is probed when nothing will be written");

        Assert.AreEqual(0, session.Config("default", "--force"));
        Assert.AreEqual(DistributedType.No, ConfigFile.Load(session.DefaultFile).DistributedType);
    }

    [TestMethod]
    public void A_json_config_file_is_written_as_json_where_asked()
    {
        using var session = new CliSession();
        var path = Path.Combine(session.Home, "sub", "cluster.json");

        Assert.AreEqual(0, session.Config("default", "--config-file=" + path, "--mixed-precision", "bf16"));

        StringAssert.StartsWith(File.ReadAllText(path), "{\n  \"compute_environment\": \"LOCAL_MACHINE\",");
        Assert.AreEqual(MixedPrecision.Bf16, ConfigFile.Load(path).MixedPrecision);
        Assert.IsFalse(File.Exists(session.DefaultFile));
    }

    [TestMethod]
    public void Bad_arguments_are_rejected_with_the_usage()
    {
        using var session = new CliSession();

        Assert.AreEqual(2, session.Config("default", "--mixed_precision", "fp8"));
        StringAssert.Contains(session.Error.ToString(), "--mixed_precision must be one of no, fp16, bf16, not 'fp8'.");
        Assert.AreEqual(2, session.Config("default", "--num_processes", "2"));
        StringAssert.Contains(session.Error.ToString(), "unknown argument '--num_processes'. Options: --config_file, --mixed_precision, --force.");
        Assert.AreEqual(2, session.Config("default", "--config_file"));
        StringAssert.Contains(session.Error.ToString(), "--config_file needs a value.");
        Assert.AreEqual(2, session.Config("reset"));
        StringAssert.Contains(session.Error.ToString(), "unknown subcommand 'reset'");
        StringAssert.Contains(session.Error.ToString(), "usage: accelerate config");
        Assert.IsFalse(File.Exists(session.DefaultFile));
    }

    [TestMethod]
    public void Help_prints_the_usage()
    {
        using var session = new CliSession();

        Assert.AreEqual(0, session.Config("--help"));

        StringAssert.Contains(session.Out.ToString(), "accelerate config default [--config_file PATH] [--mixed_precision no|fp16|bf16] [--force]");
    }
}
