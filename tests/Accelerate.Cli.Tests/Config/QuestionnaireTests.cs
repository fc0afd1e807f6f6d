using Accelerate.Configuration;

namespace Accelerate.Cli.Tests.Config;

[TestClass]
public sealed class QuestionnaireTests
{
    private const ConsoleKey Down = ConsoleKey.DownArrow;
    private const ConsoleKey Enter = ConsoleKey.Enter;

    [TestMethod]
    public void A_single_cpu_machine_is_asked_cpu_only_and_precision_and_the_path_is_printed()
    {
        using var session = new CliSession();
        session.Keys(Enter);            // This machine
        session.Keys(Enter);            // No distributed training
        session.Type("y");              // CPU only
        session.Keys(Down, Down, Enter); // bf16

        Assert.AreEqual(0, session.Config(), session.Error.ToString());

        var config = ConfigFile.Load(session.DefaultFile);
        Assert.AreEqual(DistributedType.No, config.DistributedType);
        Assert.IsTrue(config.UseCpu);
        Assert.AreEqual(1, config.NumProcesses);
        Assert.AreEqual(MixedPrecision.Bf16, config.MixedPrecision);
        Assert.IsNull(config.GpuIds, "a CPU-only run is not asked for GPU ids");
        Assert.AreEqual($"accelerate configuration saved at {session.DefaultFile}", session.Out.ToString().Trim());
        StringAssert.Contains(session.Console.Output, "Do you want to run your training on CPU only (even if a GPU is available)? [y/n] (n)",
            "the default is shown");
    }

    [TestMethod]
    public void Multi_gpu_on_one_machine_rejects_one_gpu_and_asks_again()
    {
        using var session = new CliSession();
        session.Keys(Enter);             // This machine
        session.Keys(Down, Down, Enter); // multi-GPU
        session.Keys(Enter);             // machines: default 1
        session.Keys(Enter);             // debug checks: default no
        session.Type("1");               // one GPU: rejected
        session.Type("4");
        session.Type("0,1,2,3");
        session.Keys(Enter);             // numa: default no
        session.Keys(Down, Enter);       // fp16

        Assert.AreEqual(0, session.Config(), session.Error.ToString());

        StringAssert.Contains(session.Console.Output, "MULTI_GPU on one machine needs 2 or more GPUs");
        StringAssert.Contains(session.Console.Output, "How many different machines will you use (use more than 1 for multi-node training)? (1)");
        var config = ConfigFile.Load(session.DefaultFile);
        Assert.AreEqual(DistributedType.MultiGpu, config.DistributedType);
        Assert.AreEqual(4, config.NumProcesses);
        Assert.AreEqual("0,1,2,3", config.GpuIds);
        Assert.AreEqual(MixedPrecision.Fp16, config.MixedPrecision);
        Assert.IsFalse(config.UseCpu);
        Assert.IsFalse(config.Debug);
        Assert.AreEqual(1, config.NumMachines);
    }

    [TestMethod]
    public void A_multi_node_setup_asks_in_HF_order_and_validates_typed_answers()
    {
        using var session = new CliSession();
        session.Keys(Enter);             // This machine
        session.Keys(Down, Down, Enter); // multi-GPU
        session.Type("two");             // not a number: asked again
        session.Type("2");
        session.Keys(Down, Enter);       // rank 1
        session.Type("not a host!");     // rejected
        session.Type("10.0.0.1");
        session.Type("70000");           // rejected
        session.Keys(Enter);             // default port 29500
        session.Type("n");               // not the same network
        session.Keys(Down, Enter);       // c10d
        session.Type("y");               // debug checks
        session.Type("3");               // not a multiple of 2 machines
        session.Type("8");
        session.Keys(Enter);             // gpu ids: all
        session.Keys(Enter);             // numa: no
        session.Keys(Enter);             // precision: no

        Assert.AreEqual(0, session.Config(), session.Error.ToString());

        var transcript = session.Console.Output;
        string[] questionsInOrder =
        [
            "In which compute environment are you running?",
            "Which type of machine are you using?",
            "How many different machines will you use",
            "What is the rank of this machine?",
            "What is the IP address of the machine that will host the main process?",
            "What is the port you will use to communicate with the main process? (29500)",
            "Are all the machines on the same local network?",
            "What rendezvous backend will you use?",
            "Should distributed operations be checked while running for errors?",
            "How many GPU(s) should be used for distributed training? (1)",
            "What GPU(s) (by id) should be used for training on this machine as a comma-separated list? (all)",
            "Would you like to enable numa efficiency?",
            "Do you wish to use mixed precision?",
        ];
        var positions = questionsInOrder.Select(q => transcript.IndexOf(q, StringComparison.Ordinal)).ToArray();
        CollectionAssert.DoesNotContain(positions, -1, string.Join(" | ", questionsInOrder.Zip(positions)));
        CollectionAssert.AreEqual(positions.Order().ToArray(), positions, "questions come in HF's order");
        StringAssert.Contains(transcript, "Enter a whole number.");
        StringAssert.Contains(transcript, "Enter an IP address or host name.");
        StringAssert.Contains(transcript, "Enter a port from 0 to 65535");
        StringAssert.Contains(transcript, "enter a multiple of 2");

        var config = ConfigFile.Load(session.DefaultFile);
        Assert.AreEqual((2, 1, "10.0.0.1", 29500), (config.NumMachines, config.MachineRank, config.MainProcessIp, config.MainProcessPort));
        Assert.AreEqual(RendezvousBackend.C10d, config.RdzvBackend);
        Assert.IsFalse(config.SameNetwork);
        Assert.IsTrue(config.Debug);
        Assert.AreEqual(8, config.NumProcesses);
        Assert.AreEqual("all", config.GpuIds);
    }

    [TestMethod]
    public void Multi_cpu_uses_the_cpu_without_asking_and_can_write_an_mpirun_hostfile()
    {
        using var session = new CliSession();
        session.Keys(Enter);        // This machine
        session.Keys(Down, Enter);  // multi-CPU
        session.Keys(Enter);        // machines: 1
        session.Keys(Enter);        // debug: no
        session.Type("y");          // launch mpirun
        session.Keys(Enter);        // hostfile: ~/hostfile
        session.Type("4");          // processes
        session.Keys(Enter);        // precision: no

        Assert.AreEqual(0, session.Config("--config_file", Path.Combine(session.Home, "cpu.yaml")), session.Error.ToString());

        var transcript = session.Console.Output;
        Assert.DoesNotContain("CPU only", transcript);
        Assert.DoesNotContain("What GPU(s)", transcript);
        StringAssert.Contains(transcript, "How many processes should be used for distributed training?");
        var config = ConfigFile.Load(Path.Combine(session.Home, "cpu.yaml"));
        Assert.AreEqual(DistributedType.MultiCpu, config.DistributedType);
        Assert.IsTrue(config.UseCpu);
        Assert.AreEqual(4, config.NumProcesses);
        Assert.AreEqual("~/hostfile", config.MpirunHostfile);
        Assert.IsFalse(File.Exists(session.DefaultFile), "--config_file chooses where the answers go");
    }

    [TestMethod]
    public void Choosing_SageMaker_writes_nothing_and_says_it_is_not_supported()
    {
        using var session = new CliSession();
        session.Keys(Down, Enter);

        Assert.AreEqual(1, session.Config());

        StringAssert.Contains(session.Error.ToString(), "error ACC2404: `compute_environment: AMAZON_SAGEMAKER` is not supported");
        Assert.IsFalse(File.Exists(session.DefaultFile));
    }

    [TestMethod]
    public void Without_a_terminal_it_fails_at_once_and_points_to_config_default()
    {
        using var session = new CliSession(hasTerminal: false);

        Assert.AreEqual(1, session.Config());

        StringAssert.Contains(session.Error.ToString(), "error ACC2408: the questionnaire needs a terminal");
        StringAssert.Contains(session.Error.ToString(), "accelerate config default");
        Assert.AreEqual("", session.Console.Output, "no question was asked");
        Assert.IsFalse(File.Exists(session.DefaultFile));
    }
}
