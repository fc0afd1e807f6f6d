using Accelerate.Configuration;

namespace Accelerate.Cli.Tests.Config;

[TestClass]
public sealed class ConfigUpdateTests
{
    [TestMethod]
    public void An_old_file_is_rewritten_with_current_names_and_defaults_keeping_the_users_values()
    {
        using var session = new CliSession();
        var path = Path.Combine(session.Home, "old.yaml");
        File.WriteAllText(path, """
            compute_environment: LOCAL_MACHINE
            distributed_type: MULTI_GPU
            fp16: true
            machine_rank: 0
            main_process_ip: null
            main_process_port: null
            main_training_function: train
            num_machines: 1
            num_processes: 2
            deepspeed_config: {}
            """);

        Assert.AreEqual(0, session.Config("update", "--config_file", path), session.Error.ToString());

        Assert.AreEqual($"Successfully updated the configuration file at {path}.", session.Out.ToString().Trim());
        Assert.AreEqual("""
            compute_environment: LOCAL_MACHINE
            debug: false
            distributed_type: MULTI_GPU
            downcast_bf16: 'no'
            enable_cpu_affinity: false
            machine_rank: 0
            main_training_function: train
            mixed_precision: fp16
            num_machines: 1
            num_processes: 2
            rdzv_backend: static
            same_network: false
            use_cpu: false

            """.ReplaceLineEndings("\n"), File.ReadAllText(path));
    }

    [TestMethod]
    public void Updating_a_missing_file_says_how_to_create_one()
    {
        using var session = new CliSession();

        Assert.AreEqual(1, session.Config("update"));

        StringAssert.Contains(session.Error.ToString(), $"{session.DefaultFile}: error ACC2400: there is no config file to update. Create one with `accelerate config`");
    }

    [TestMethod]
    public void An_invalid_file_is_reported_and_left_unchanged()
    {
        using var session = new CliSession();
        Directory.CreateDirectory(Path.GetDirectoryName(session.DefaultFile)!);
        const string Broken = "distributed_type: NO\nnum_procesess: 2\n";
        File.WriteAllText(session.DefaultFile, Broken);

        Assert.AreEqual(1, session.Config("update"));

        StringAssert.Contains(session.Error.ToString(), $"{session.DefaultFile}:2:1: error ACC2402: unknown key 'num_procesess'; did you mean 'num_processes'?");
        Assert.AreEqual(Broken, File.ReadAllText(session.DefaultFile));
    }
}
