using Accelerate.Configuration;
using Accelerate.Cli.Launch;

namespace Accelerate.Cli.Tests.Launch;

[TestClass]
public sealed class LaunchOptionTests
{
    private static LaunchPlan Plan(string[] args, LoadedConfig? config = null, Dictionary<string, string>? environment = null, int gpus = 0, int cores = 8)
        => LaunchPlanResolver.Resolve(LaunchArguments.Parse(args), config, name => environment?.GetValueOrDefault(name), gpus, cores);

    private static LaunchException Rejected(params string[] args)
        => Assert.ThrowsExactly<LaunchException>(() => Plan(args));

    [TestMethod]
    [DataRow("--num_processes", "4")]
    [DataRow("--num-processes", "4")]
    [DataRow("--num_processes=4")]
    [DataRow("--num-processes=4")]
    public void Every_spelling_of_an_option_is_accepted(params string[] spelling)
        => Assert.AreEqual(4, Plan([.. spelling, "app.dll"]).NumProcesses);

    [TestMethod]
    public void Options_after_the_program_belong_to_the_program()
    {
        var parsed = LaunchArguments.Parse(["--cpu", "app.dll", "--num_processes", "9", "--", "x"]);
        Assert.AreEqual("app.dll", parsed.Program);
        CollectionAssert.AreEqual(new[] { "--num_processes", "9", "--", "x" }, parsed.ProgramArguments.ToArray());
        Assert.IsNull(parsed.Get("num_processes"));
    }

    [TestMethod]
    public void An_unknown_option_is_named_with_a_suggestion()
    {
        var error = Assert.ThrowsExactly<LaunchException>(() => LaunchArguments.Parse(["--num_process", "2", "app.dll"]));
        Assert.AreEqual("ACC3001", error.Code);
        StringAssert.Contains(error.Message, "'--num_process'");
        StringAssert.Contains(error.Message, "--num_processes");
    }

    [TestMethod]
    [DataRow("--rdzv_backend", "etcd", "static, c10d")]
    [DataRow("--num_processes", "zero", "whole number of at least 1")]
    [DataRow("--num_processes", "0", "whole number of at least 1")]
    [DataRow("--main_process_port", "70000", "1..65535")]
    [DataRow("--gpu_ids", "0,x", "'all' or GPU numbers")]
    [DataRow("--tee", "7", "0, 1, 2, 3")]
    [DataRow("--monitor_interval", "soon", "number of seconds")]
    public void A_bad_value_names_the_option_and_the_allowed_values(string option, string value, string allowed)
    {
        var error = Assert.ThrowsExactly<LaunchException>(() => Plan([option, value, "app.dll"]));
        StringAssert.Contains(error.Message, option);
        StringAssert.Contains(error.Message, value);
        StringAssert.Contains(error.Message, allowed);
    }

    [TestMethod]
    public void A_value_option_without_its_value_is_an_error()
        => StringAssert.Contains(Assert.ThrowsExactly<LaunchException>(() => LaunchArguments.Parse(["--num_processes"])).Message, "--num_processes needs a value");

    [TestMethod]
    public void Conflicting_options_are_errors()
    {
        StringAssert.Contains(Rejected("--cpu", "--multi_gpu", "app.dll").Message, "--cpu and --multi_gpu");
        StringAssert.Contains(Assert.ThrowsExactly<LaunchException>(() => Plan(["--multi_gpu", "--num_processes", "1", "app.dll"], gpus: 2)).Message, "--multi_gpu needs at least 2 processes");
        StringAssert.Contains(Rejected("--num_processes", "4", "--nproc_per_node", "3", "app.dll").Message, "disagree");
        StringAssert.Contains(Rejected("--num_machines", "2", "--nnodes", "3", "app.dll").Message, "disagree");
        StringAssert.Contains(Rejected("--num_machines", "2", "--machine_rank", "2", "--main_process_ip", "10.0.0.1", "app.dll").Message, "--machine_rank 2 is out of range");
        StringAssert.Contains(Rejected("--num_machines", "2", "app.dll").Message, "--main_process_ip is needed");
        StringAssert.Contains(Rejected("--num_machines", "2", "--num_processes", "3", "--main_process_ip", "h", "app.dll").Message, "does not split evenly");
        StringAssert.Contains(Rejected("--standalone", "--num_machines", "2", "app.dll").Message, "--standalone");
        StringAssert.Contains(Rejected("--num_processes", "2").Message, "No program given");
    }

    [TestMethod]
    public void Torchrun_spellings_mean_the_same()
    {
        var plan = Plan(["--nproc_per_node", "2", "--nnodes", "3", "--node_rank", "1", "--master_addr", "10.1.1.1", "--master_port", "4000", "app.dll"]);
        Assert.AreEqual((6, 3, 1, 2, "10.1.1.1", 4000), (plan.NumProcesses, plan.NumMachines, plan.MachineRank, plan.LocalProcesses, plan.MainProcessIp, plan.MainProcessPort));
        Assert.AreEqual(0, Plan(["--standalone", "app.dll"]).MainProcessPort);
        Assert.AreEqual(6, Plan(["--nproc_per_node", "cpu", "app.dll"], cores: 6).NumProcesses);
        Assert.AreEqual(2, Plan(["--nproc_per_node", "auto", "app.dll"], gpus: 2, cores: 6).NumProcesses);
        StringAssert.Contains(Rejected("--nproc_per_node", "gpu", "app.dll").Message, "no GPU found");
    }

    [TestMethod]
    public void The_command_line_beats_the_config_file_which_beats_the_environment_and_defaults()
    {
        var config = new LoadedConfig("/cfg/default_config.yaml", new ClusterConfig { NumProcesses = 4, MixedPrecision = MixedPrecision.Fp16, MainProcessPort = 1234, DistributedType = DistributedType.MultiCpu });
        var plan = Plan(["--num_processes", "2", "app.dll"], config, new() { ["OMP_NUM_THREADS"] = "3" });
        Assert.AreEqual(2, plan.NumProcesses);
        Assert.AreEqual(MixedPrecision.Fp16, plan.MixedPrecision);
        Assert.AreEqual(1234, plan.MainProcessPort);
        Assert.IsTrue(plan.UseCpu);
        Assert.AreEqual(3, plan.ThreadsPerProcess);
        Assert.IsNull(plan.DefaultsMessage, "a config file was used");

        Setting(plan, "num_processes", "2", SettingOrigin.Flag, "--num_processes");
        Setting(plan, "mixed_precision", "fp16", SettingOrigin.ConfigFile, "/cfg/default_config.yaml");
        Setting(plan, "num_cpu_threads_per_process", "3", SettingOrigin.Environment, "OMP_NUM_THREADS");
        Setting(plan, "rdzv_backend", "static", SettingOrigin.Default, "");
        Assert.AreEqual(LaunchOptionCatalog.All.Count(o => o.Group is not ("torchrun spellings" or "Accepted for compatibility, no effect") && o.Name is not ("config_file" or "quiet" or "print_config" or "no_python" or "multi_gpu" or "standalone" or "rdzv_conf")),
            plan.Settings.Count, "every setting is listed once: " + string.Join(", ", plan.Settings.Select(s => s.Name)));
    }

    [TestMethod]
    public void A_GPU_config_on_a_machine_without_GPUs_runs_on_the_CPU_and_says_so()
    {
        var config = new LoadedConfig("/cfg/gpu.yaml", new ClusterConfig { DistributedType = DistributedType.MultiGpu, NumProcesses = 2 });
        var plan = Plan(["app.dll"], config, gpus: 0);
        Assert.AreEqual((true, false, 2), (plan.UseCpu, plan.MultiGpu, plan.NumProcesses));
        StringAssert.Contains(plan.Notes.Single(), "MULTI_GPU in /cfg/gpu.yaml, but no GPU found");
        Assert.IsTrue(Plan(["app.dll"], config, gpus: 2).MultiGpu);
        Assert.IsEmpty(Plan(["app.dll"], config, gpus: 2).Notes);
    }

    [TestMethod]
    public void Torchrun_rdzv_conf_timeout_sets_the_rendezvous_timeout()
    {
        Assert.AreEqual(TimeSpan.FromSeconds(42), Plan(["--rdzv_conf", "timeout=42,read_timeout=5", "app.dll"]).RendezvousTimeout);
        Assert.AreEqual(TimeSpan.FromSeconds(7), Plan(["--rdzv_conf", "timeout=42", "--rdzv_timeout", "7", "app.dll"]).RendezvousTimeout);
        StringAssert.Contains(Rejected("--rdzv_conf", "speed=fast", "app.dll").Message, "'speed=fast'");
    }

    [TestMethod]
    public void An_mpirun_hostfile_in_a_multi_cpu_config_starts_the_ranks_through_mpirun()
    {
        var plan = Plan(["app.dll"], new LoadedConfig("/cfg/mpi.yaml", new ClusterConfig
        {
            DistributedType = DistributedType.MultiCpu,
            NestedConfigs = new Dictionary<string, object?> { ["mpirun_config"] = new Dictionary<string, object?> { ["mpirun_hostfile"] = "/etc/hosts.mpi" } },
        }));

        Assert.AreEqual("/etc/hosts.mpi", plan.MpirunHostfile);
        Setting(plan, "mpirun_hostfile", "/etc/hosts.mpi", SettingOrigin.ConfigFile, "/cfg/mpi.yaml");
        Assert.IsEmpty(plan.Notes);
    }

    [TestMethod]
    public void The_mpirun_hostfile_option_wins_over_the_config_and_needs_the_cpu()
    {
        Setting(Plan(["--mpirun_hostfile", "hosts", "app.dll"]), "mpirun_hostfile", "hosts", SettingOrigin.Flag, "--mpirun_hostfile");
        var error = Assert.ThrowsExactly<LaunchException>(() => Plan(["--multi_gpu", "--num_processes", "2", "--mpirun_hostfile", "hosts", "app.dll"], gpus: 2));
        Assert.AreEqual("ACC3005", error.Code);
        StringAssert.Contains(error.Message, "--mpirun_hostfile");
    }

    [TestMethod]
    public void With_no_config_and_no_flags_one_CPU_process_runs_and_the_defaults_are_listed()
    {
        var plan = Plan(["app.dll"], cores: 8);
        Assert.AreEqual((1, 1, true, 8), (plan.NumProcesses, plan.NumMachines, plan.UseCpu, plan.ThreadsPerProcess));
        StringAssert.Contains(plan.DefaultsMessage, "`--num_processes` was set to a value of `1`");
        StringAssert.Contains(plan.DefaultsMessage, "`--mixed_precision` was set to a value of `no`");
        StringAssert.Contains(plan.DefaultsMessage, "`accelerate config`");
    }

    [TestMethod]
    public void Where_GPUs_exist_the_default_is_one_process_per_GPU()
    {
        var plan = Plan(["app.dll"], gpus: 4);
        Assert.AreEqual((4, false), (plan.NumProcesses, plan.UseCpu));
        Assert.AreEqual(1, Plan(["--cpu", "app.dll"], gpus: 4).NumProcesses);
    }

    [TestMethod]
    public void Cpu_with_many_processes_plans_that_many_and_splits_the_cores()
    {
        var plan = Plan(["--cpu", "--num_processes", "4", "app.dll"], cores: 8);
        Assert.AreEqual((4, 4, 2), (plan.NumProcesses, plan.LocalProcesses, plan.ThreadsPerProcess));
    }

    [TestMethod]
    public void Multi_machine_splits_processes_and_defaults_the_port_to_29500()
    {
        var plan = Plan(["--num_machines", "2", "--machine_rank", "1", "--num_processes", "6", "--main_process_ip", "10.0.0.1", "app.dll"]);
        Assert.AreEqual((3, 29500), (plan.LocalProcesses, plan.MainProcessPort));
    }

    [TestMethod]
    public void Print_config_shows_every_setting_with_its_origin()
    {
        var table = SettingsTable.Format(Plan(["--num_processes", "2", "app.dll"], null, new() { ["OMP_NUM_THREADS"] = "5" }).Settings);
        StringAssert.Matches(table, new System.Text.RegularExpressions.Regex(@"num_processes\s+2\s+flag\s+--num_processes"));
        StringAssert.Matches(table, new System.Text.RegularExpressions.Regex(@"num_cpu_threads_per_process\s+5\s+environment\s+OMP_NUM_THREADS"));
        StringAssert.Matches(table, new System.Text.RegularExpressions.Regex(@"main_process_port\s+0\s+default\s+0 = a free port"));
    }

    [TestMethod]
    public void Help_lists_the_options_in_HF_groups()
    {
        var help = LaunchOptionCatalog.Help();
        foreach (var group in new[] { "Hardware selection arguments:", "Resource selection arguments:", "Distributed GPUs / multi-machine arguments:", "torchrun spellings:" })
            StringAssert.Contains(help, group);
        foreach (var option in LaunchOptionCatalog.All) StringAssert.Contains(help, "--" + option.Name);
    }

    private static void Setting(LaunchPlan plan, string name, string value, SettingOrigin origin, string source)
        => Assert.AreEqual(new EffectiveSetting(name, value, origin, source), plan.Settings.Single(s => s.Name == name));
    [TestMethod]
    public void The_c10d_endpoint_is_where_the_machines_meet_with_torchruns_default_port()
    {
        var plan = Plan(["--rdzv_backend", "c10d", "--rdzv_endpoint", "10.1.1.1", "--nnodes", "2", "--nproc_per_node", "2", "app.dll"]);
        Assert.IsTrue(plan.DynamicRendezvous);
        Assert.AreEqual("10.1.1.1", plan.MainProcessIp);
        Assert.AreEqual(29400, plan.MainProcessPort);
        Assert.AreEqual(4, plan.NumProcesses);
        Assert.AreEqual(4000, Plan(["--rdzv_backend", "c10d", "--rdzv_endpoint", "node-7:4000", "--nnodes", "2", "app.dll"]).MainProcessPort);
        Assert.IsFalse(Plan(["--nnodes", "2", "--master_addr", "10.1.1.1", "app.dll"]).DynamicRendezvous);
    }

    [TestMethod]
    [DataRow("10.1.1.1:")]
    [DataRow(":29400")]
    [DataRow("10.1.1.1:70000")]
    [DataRow("10.1.1.1:port")]
    public void A_c10d_endpoint_that_is_not_host_and_port_is_named(string endpoint)
    {
        var error = Rejected("--rdzv_backend", "c10d", "--rdzv_endpoint", endpoint, "--nnodes", "2", "app.dll");
        Assert.AreEqual("ACC3092", error.Code);
        StringAssert.Contains(error.Message, $"--rdzv_endpoint '{endpoint}'");
    }

    [TestMethod]
    public void A_machine_rank_with_c10d_is_refused_because_the_rendezvous_gives_it_out()
    {
        var error = Rejected("--rdzv_backend", "c10d", "--rdzv_endpoint", "10.1.1.1:4000", "--nnodes", "2", "--node_rank", "1", "app.dll");
        Assert.AreEqual("ACC3005", error.Code);
        StringAssert.Contains(error.Message, "--node_rank is given out by the c10d rendezvous");
    }

    [TestMethod]
    public void An_rdzv_id_with_spaces_is_refused()
        => StringAssert.Contains(Rejected("--rdzv_id", "my job", "app.dll").Message, "--rdzv_id 'my job' is not allowed");

    [TestMethod]
    public void A_range_of_machines_sets_the_least_and_the_most_and_the_last_call_comes_from_rdzv_conf()
    {
        var plan = Plan(["--rdzv_backend", "c10d", "--rdzv_endpoint", "10.1.1.1", "--nnodes", "2:4", "--nproc_per_node", "3", "--rdzv_conf", "last_call_timeout=5", "app.dll"]);
        Assert.AreEqual(2, plan.MinMachines);
        Assert.AreEqual(4, plan.NumMachines);
        Assert.AreEqual(3, plan.LocalProcesses);
        Assert.AreEqual(TimeSpan.FromSeconds(5), plan.LastCallTimeout);
        Assert.AreEqual(TimeSpan.FromSeconds(30), Plan(["--rdzv_backend", "c10d", "--rdzv_endpoint", "10.1.1.1", "--nnodes", "1:2", "app.dll"]).LastCallTimeout, "torchrun's default");
        Assert.AreEqual(2, Plan(["--rdzv_backend", "c10d", "--rdzv_endpoint", "10.1.1.1", "--nnodes", "2", "app.dll"]).MinMachines);
    }

    [TestMethod]
    [DataRow("3:2", "ACC3003")]
    [DataRow("0:2", "ACC3003")]
    [DataRow("1:2:3", "ACC3003")]
    [DataRow("a:2", "ACC3003")]
    public void A_range_of_machines_that_is_not_min_to_max_is_named(string nnodes, string code)
    {
        var error = Rejected("--rdzv_backend", "c10d", "--rdzv_endpoint", "10.1.1.1", "--nnodes", nnodes, "app.dll");
        Assert.AreEqual(code, error.Code);
        StringAssert.Contains(error.Message, $"--nnodes '{nnodes}'");
    }

    [TestMethod]
    public void A_range_of_machines_needs_the_c10d_rendezvous()
        => StringAssert.Contains(Rejected("--nnodes", "1:2", "--master_addr", "10.1.1.1", "app.dll").Message, "needs --rdzv_backend c10d");

    [TestMethod]
    public void Several_machines_with_c10d_need_an_endpoint()
    {
        var error = Rejected("--rdzv_backend", "c10d", "--nnodes", "1:2", "app.dll");
        Assert.AreEqual("ACC3006", error.Code);
        StringAssert.Contains(error.Message, "--rdzv_endpoint HOST:PORT is needed");
    }
}
