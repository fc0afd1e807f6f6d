using Accelerate.Configuration;
using Accelerate.Cli.Launch;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>
/// Settings <c>accelerate launch</c> takes from the job it runs in: a SLURM step (one launcher per node, started by
/// srun) and a Kubeflow PyTorchJob pod (torchrun's <c>PET_*</c> variables), below the command line and the config file.
/// </summary>
[TestClass]
public sealed class SchedulerSettingsTests
{
    /// <summary>What a task of <c>srun --ntasks-per-node=1</c> sees on the second of three nodes of job 4242017.</summary>
    private static Dictionary<string, string> SlurmStep(int node = 1) => new()
    {
        ["SLURM_JOB_ID"] = "4242017",
        ["SLURM_STEP_ID"] = "0",
        ["SLURM_NNODES"] = "3",
        ["SLURM_STEP_NUM_NODES"] = "3",
        ["SLURM_NODEID"] = node.ToString(),
        ["SLURM_JOB_NODELIST"] = "gpu[07-09]",
        ["SLURM_STEP_NODELIST"] = "gpu[07-09]",
        ["SLURM_PROCID"] = node.ToString(),
        ["SLURM_NTASKS"] = "3",
    };

    private static LaunchPlan Plan(string[] args, Dictionary<string, string> environment, LoadedConfig? config = null)
        => LaunchPlanResolver.Resolve(LaunchArguments.Parse([.. args, "app.dll"]), config, name => environment.GetValueOrDefault(name), 0, 8);

    private static void Setting(LaunchPlan plan, string name, string value, SettingOrigin origin, string source)
        => Assert.AreEqual(new EffectiveSetting(name, value, origin, source), plan.Settings.Single(s => s.Name == name));

    [TestMethod]
    public void A_launcher_in_a_slurm_step_takes_the_machines_its_rank_the_first_host_and_a_port_from_the_job()
    {
        var plan = Plan(["--num_processes", "6"], SlurmStep(node: 1));

        Assert.AreEqual((3, 1, "gpu07", 15000 + 2017), (plan.NumMachines, plan.MachineRank, plan.MainProcessIp, plan.MainProcessPort));
        Assert.AreEqual(2, plan.LocalProcesses);
        Setting(plan, "num_machines", "3", SettingOrigin.Slurm, "SLURM_STEP_NUM_NODES");
        Setting(plan, "machine_rank", "1", SettingOrigin.Slurm, "SLURM_NODEID");
        Setting(plan, "main_process_ip", "gpu07", SettingOrigin.Slurm, "first host of SLURM_STEP_NODELIST");
        Setting(plan, "main_process_port", "17017", SettingOrigin.Slurm, "15000 + last 4 digits of SLURM_JOB_ID");
    }

    [TestMethod]
    public void Print_config_names_slurm_as_the_origin()
    {
        var table = SettingsTable.Format(Plan(["--num_processes", "3"], SlurmStep(node: 2)).Settings);

        StringAssert.Matches(table, new System.Text.RegularExpressions.Regex(@"machine_rank\s+2\s+slurm\s+SLURM_NODEID"));
    }

    [TestMethod]
    public void The_job_wide_variables_serve_when_the_step_ones_are_missing()
    {
        var environment = SlurmStep();
        environment.Remove("SLURM_STEP_NUM_NODES");
        environment.Remove("SLURM_STEP_NODELIST");

        var plan = Plan(["--num_processes", "3"], environment);

        Setting(plan, "num_machines", "3", SettingOrigin.Slurm, "SLURM_NNODES");
        Setting(plan, "main_process_ip", "gpu07", SettingOrigin.Slurm, "first host of SLURM_JOB_NODELIST");
    }

    [TestMethod]
    public void The_command_line_and_the_config_file_win_over_slurm()
    {
        var config = new LoadedConfig("/etc/accelerate.yaml", new ClusterConfig { NumMachines = 2, MainProcessIp = "10.0.0.1" });

        var plan = Plan(["--num_processes", "4", "--machine_rank", "0", "--main_process_port", "29400"], SlurmStep(node: 1), config);

        Setting(plan, "num_machines", "2", SettingOrigin.ConfigFile, "/etc/accelerate.yaml");
        Setting(plan, "machine_rank", "0", SettingOrigin.Flag, "--machine_rank");
        Setting(plan, "main_process_ip", "10.0.0.1", SettingOrigin.ConfigFile, "/etc/accelerate.yaml");
        Setting(plan, "main_process_port", "29400", SettingOrigin.Flag, "--main_process_port");
    }

    [TestMethod]
    public void The_batch_script_itself_is_no_step_and_takes_nothing_from_slurm()
    {
        var environment = SlurmStep(node: 0);
        environment.Remove("SLURM_STEP_ID");

        var plan = Plan([], environment);

        Assert.AreEqual((1, 0, "127.0.0.1"), (plan.NumMachines, plan.MachineRank, plan.MainProcessIp));
        Assert.AreEqual(SettingOrigin.Default, plan.Settings.Single(s => s.Name == "num_machines").Origin);
    }

    [TestMethod]
    public void A_broken_node_list_is_an_error_that_names_the_variable_and_the_way_out()
    {
        var environment = SlurmStep();
        environment["SLURM_STEP_NODELIST"] = "gpu[09-07]";

        var error = Assert.ThrowsExactly<LaunchException>(() => Plan(["--num_processes", "3"], environment));

        Assert.AreEqual("ACC3080", error.Code);
        StringAssert.Contains(error.Message, "SLURM_STEP_NODELIST");
        StringAssert.Contains(error.Message, "--main_process_ip");
    }

    [TestMethod]
    public void A_slurm_count_that_is_no_number_is_an_error_that_names_the_variable()
    {
        var environment = SlurmStep();
        environment["SLURM_NODEID"] = "one";

        var error = Assert.ThrowsExactly<LaunchException>(() => Plan(["--num_processes", "3"], environment));

        Assert.AreEqual("ACC3080", error.Code);
        StringAssert.Contains(error.Message, "SLURM_NODEID='one'");
    }

    /// <summary>What Kubeflow's training operator sets in the pod of worker 0 of a PyTorchJob with 2 replicas.</summary>
    private static Dictionary<string, string> PyTorchJobPod(int rank = 1) => new()
    {
        ["PET_NNODES"] = "2",
        ["PET_NPROC_PER_NODE"] = "3",
        ["PET_NODE_RANK"] = rank.ToString(),
        ["PET_MASTER_ADDR"] = "train-master-0",
        ["PET_MASTER_PORT"] = "23456",
    };

    [TestMethod]
    public void A_launcher_in_a_pytorchjob_pod_takes_every_setting_from_the_pet_variables()
    {
        var plan = Plan([], PyTorchJobPod(rank: 1));

        Assert.AreEqual((2, 1, 6, "train-master-0", 23456), (plan.NumMachines, plan.MachineRank, plan.NumProcesses, plan.MainProcessIp, plan.MainProcessPort));
        Setting(plan, "num_machines", "2", SettingOrigin.Pet, "PET_NNODES");
        Setting(plan, "machine_rank", "1", SettingOrigin.Pet, "PET_NODE_RANK");
        Setting(plan, "num_processes", "6", SettingOrigin.Pet, "PET_NPROC_PER_NODE × num_machines");
        Setting(plan, "main_process_ip", "train-master-0", SettingOrigin.Pet, "PET_MASTER_ADDR");
        Setting(plan, "main_process_port", "23456", SettingOrigin.Pet, "PET_MASTER_PORT");
        StringAssert.Matches(SettingsTable.Format(plan.Settings), new System.Text.RegularExpressions.Regex(@"main_process_ip\s+train-master-0\s+pet\s+PET_MASTER_ADDR"));
    }

    [TestMethod]
    public void The_command_line_wins_over_the_pet_variables()
    {
        var plan = Plan(["--nproc_per_node", "1", "--master_port", "4000"], PyTorchJobPod());

        Setting(plan, "num_processes", "2", SettingOrigin.Flag, "--nproc_per_node");
        Setting(plan, "main_process_port", "4000", SettingOrigin.Flag, "--master_port");
    }

    [TestMethod]
    public void An_elastic_node_range_of_one_size_counts_as_that_many_machines()
        => Assert.AreEqual(2, Plan([], new(PyTorchJobPod()) { ["PET_NNODES"] = "2:2" }).NumMachines);

    [TestMethod]
    [DataRow("PET_NNODES", "two")]
    [DataRow("PET_NNODES", "4:1")]
    [DataRow("PET_NNODES", "0:2")]
    [DataRow("PET_NODE_RANK", "-1")]
    [DataRow("PET_MASTER_PORT", "70000")]
    public void A_malformed_pet_variable_is_an_error_that_names_it(string variable, string value)
    {
        var error = Assert.ThrowsExactly<LaunchException>(() => Plan([], new(PyTorchJobPod()) { [variable] = value }));

        Assert.AreEqual("ACC3080", error.Code);
        StringAssert.Contains(error.Message, $"{variable}='{value}'");
    }

    /// <summary>What Kubeflow's training operator sets in a pod of an elastic PyTorchJob (elasticPolicy min 1, max 3, c10d).</summary>
    private static Dictionary<string, string> ElasticPod() => new()
    {
        ["PET_NNODES"] = "1:3",
        ["PET_NPROC_PER_NODE"] = "2",
        ["PET_RDZV_BACKEND"] = "c10d",
        ["PET_RDZV_ENDPOINT"] = "train-worker-0:23456",
        ["PET_RDZV_ID"] = "train",
        ["PET_MAX_RESTARTS"] = "3",
    };

    [TestMethod]
    public void A_pet_node_range_with_the_c10d_backend_is_the_nnodes_range_and_every_setting_comes_from_pet()
    {
        var plan = Plan([], ElasticPod());

        Assert.IsTrue(plan.DynamicRendezvous);
        Assert.AreEqual((1, 3, 6, "train-worker-0", 23456), (plan.MinMachines, plan.NumMachines, plan.NumProcesses, plan.MainProcessIp, plan.MainProcessPort));
        Assert.AreEqual(("train", 3), (plan.RunId, plan.MaxRestarts));
        Setting(plan, "num_machines", "3", SettingOrigin.Pet, "MAX of PET_NNODES 1:3");
        Setting(plan, "rdzv_backend", "c10d", SettingOrigin.Pet, "PET_RDZV_BACKEND");
        Setting(plan, "main_process_ip", "train-worker-0", SettingOrigin.Pet, "PET_RDZV_ENDPOINT");
        Setting(plan, "main_process_port", "23456", SettingOrigin.Pet, "PET_RDZV_ENDPOINT");
    }

    [TestMethod]
    public void The_command_line_range_wins_over_the_pet_range()
    {
        var plan = Plan(["--nnodes", "2:4"], ElasticPod());

        Assert.AreEqual((2, 4), (plan.MinMachines, plan.NumMachines));
    }

    [TestMethod]
    public void A_pet_node_range_with_the_static_backend_is_refused_naming_c10d()
    {
        var error = Assert.ThrowsExactly<LaunchException>(() => Plan([], new(PyTorchJobPod()) { ["PET_NNODES"] = "1:4" }));

        Assert.AreEqual("ACC3122", error.Code);
        StringAssert.Contains(error.Message, "PET_NNODES='1:4'");
        StringAssert.Contains(error.Message, "PET_RDZV_BACKEND=c10d");
        StringAssert.Contains(error.Message, "--rdzv_backend c10d");
    }

    [TestMethod]
    public void Slurm_wins_over_pet_variables_left_in_the_environment()
        => Setting(Plan([], new(SlurmStep()) { ["PET_NNODES"] = "5" }), "num_machines", "3", SettingOrigin.Slurm, "SLURM_STEP_NUM_NODES");
}
