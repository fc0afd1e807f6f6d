using Accelerate.Distributed;

namespace Accelerate.Runtime.Tests.Distributed;

[TestClass]
public sealed class LaunchContractTests
{
    private static DistributedEnvironment Read(params (string Name, string Value)[] variables) =>
        LaunchContract.Read(name => variables.FirstOrDefault(v => v.Name == name).Value);

    [TestMethod]
    public void Ranks_started_by_mpirun_find_their_place_from_the_open_mpi_variables()
    {
        var environment = Read(("OMPI_COMM_WORLD_RANK", "5"), ("OMPI_COMM_WORLD_SIZE", "8"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"), ("OMPI_COMM_WORLD_LOCAL_SIZE", "4"), ("MASTER_ADDR", "node0"));

        Assert.AreEqual(new DistributedEnvironment(5, 1, 8, 4, 1, 2, "node0", 29500, null, "mpirun"), environment);
    }

    [TestMethod]
    public void Ranks_started_by_mpirun_on_one_machine_meet_on_loopback()
    {
        var environment = Read(("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"), ("OMPI_COMM_WORLD_LOCAL_SIZE", "2"));

        Assert.AreEqual("127.0.0.1", environment.MasterAddress);
        Assert.AreEqual("mpirun", environment.Launcher);
    }

    [TestMethod]
    public void Ranks_started_by_srun_take_the_first_host_of_the_node_list_and_a_port_from_the_job_id()
    {
        var environment = Read(("SLURM_PROCID", "3"), ("SLURM_NTASKS", "4"), ("SLURM_LOCALID", "1"), ("SLURM_NODEID", "1"), ("SLURM_NNODES", "2"),
            ("SLURM_NTASKS_PER_NODE", "2(x2)"), ("SLURM_JOB_NODELIST", "gpu[007-008,12],cpu1"), ("SLURM_JOB_ID", "123456"), ("SLURM_STEP_ID", "0"));

        Assert.AreEqual(new DistributedEnvironment(3, 1, 4, 2, 1, 2, "gpu007", 15000 + 3456, null, "srun"), environment);
    }

    [TestMethod]
    [DataRow("node1", "node1")]
    [DataRow("gnode[10,20]", "gnode10")]
    [DataRow("a[1-3],b2", "a1")]
    [DataRow("host-x,host-y", "host-x")]
    [DataRow("n1.cluster.example.com,n2.cluster.example.com", "n1.cluster.example.com")]
    public void The_first_slurm_host_is_read_from_compressed_node_lists(string list, string first) =>
        Assert.AreEqual(first, Read(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2"), ("SLURM_STEP_ID", "0"), ("SLURM_JOB_NODELIST", list)).MasterAddress);

    [TestMethod]
    public void An_invalid_slurm_node_list_is_named_with_the_fix()
    {
        var error = Assert.ThrowsExactly<AccelerateException>(() => Read(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2"), ("SLURM_STEP_ID", "0"), ("SLURM_JOB_NODELIST", "gpu[1-2]-a")));

        Assert.AreEqual("ACC2190", error.Code);
        StringAssert.Contains(error.Message, "SLURM_JOB_NODELIST");
        StringAssert.Contains(error.Message, "gpu[1-2]-a");
        StringAssert.Contains(error.Message, "MASTER_ADDR");
    }

    [TestMethod]
    public void A_step_with_fewer_tasks_than_its_job_counts_the_steps_tasks_on_the_node()
    {
        // What srun -n2 in sbatch --ntasks-per-node=4 gives: the job's SLURM_NTASKS_PER_NODE stays 4, the step runs 2 here.
        var environment = Read(("SLURM_PROCID", "1"), ("SLURM_NTASKS", "2"), ("SLURM_LOCALID", "1"), ("SLURM_NODEID", "0"), ("SLURM_NNODES", "1"),
            ("SLURM_NTASKS_PER_NODE", "4"), ("SLURM_TASKS_PER_NODE", "2"), ("SLURM_STEP_TASKS_PER_NODE", "2"), ("SLURM_STEP_ID", "0"), ("SLURM_JOB_NODELIST", "vm"));

        Assert.AreEqual(2, environment.LocalWorldSize);
    }

    [TestMethod]
    [DataRow(1, 1, 0, 2)]
    [DataRow(6, 0, 3, 1)]
    public void Each_node_of_an_uneven_step_counts_its_own_tasks(int rank, int localRank, int node, int tasksOnNode)
    {
        // 7 tasks on 4 nodes: 2, 2, 2 and 1.
        var environment = Read(("SLURM_PROCID", rank.ToString()), ("SLURM_NTASKS", "7"), ("SLURM_LOCALID", localRank.ToString()), ("SLURM_NODEID", node.ToString()),
            ("SLURM_NNODES", "4"), ("SLURM_STEP_TASKS_PER_NODE", "2(x3),1"), ("SLURM_STEP_ID", "0"), ("SLURM_JOB_NODELIST", "n[1-4]"));

        Assert.AreEqual(tasksOnNode, environment.LocalWorldSize);
        Assert.AreEqual(node, environment.NodeRank);
    }

    [TestMethod]
    public void A_malformed_slurm_tasks_per_node_list_is_named_with_the_fix()
    {
        var error = Assert.ThrowsExactly<AccelerateException>(() => Read(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2"), ("SLURM_STEP_ID", "0"),
            ("SLURM_STEP_TASKS_PER_NODE", "2(x")));

        Assert.AreEqual("ACC2002", error.Code);
        StringAssert.Contains(error.Message, "SLURM_STEP_TASKS_PER_NODE='2(x'");
    }

    [TestMethod]
    public void The_batch_script_of_a_slurm_job_runs_alone_since_it_is_no_task_started_by_srun()
    {
        // What sbatch gives the script itself: the job's task count, rank 0, but no step.
        var environment = Read(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2"), ("SLURM_NTASKS_PER_NODE", "2"), ("SLURM_LOCALID", "0"), ("SLURM_NODEID", "0"),
            ("SLURM_JOB_NODELIST", "n1"), ("SLURM_JOB_ID", "42"));

        Assert.AreEqual(DistributedEnvironment.SingleProcess, environment);
    }

    [TestMethod]
    public void An_explicit_master_address_wins_over_the_slurm_node_list()
    {
        var environment = Read(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2"), ("SLURM_STEPID", "3"), ("SLURM_JOB_NODELIST", "n[1-2]"), ("MASTER_ADDR", "10.0.0.9"), ("MASTER_PORT", "1234"));

        Assert.AreEqual("10.0.0.9", environment.MasterAddress);
        Assert.AreEqual(1234, environment.MasterPort);
    }

    [TestMethod]
    public void A_kubernetes_pytorch_job_pod_is_one_rank_on_its_own_machine()
    {
        var environment = Read(("RANK", "2"), ("WORLD_SIZE", "3"), ("MASTER_ADDR", "job-master-0"), ("MASTER_PORT", "23456"), ("KUBERNETES_SERVICE_HOST", "10.96.0.1"));

        Assert.AreEqual(new DistributedEnvironment(2, 0, 3, 1, 2, 3, "job-master-0", 23456, null, "kubernetes"), environment);
    }

    [TestMethod]
    public void Torch_variables_take_precedence_over_mpi_and_slurm_ones()
    {
        var environment = Read(("RANK", "1"), ("WORLD_SIZE", "2"), ("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "1"), ("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1"));

        Assert.AreEqual(1, environment.Rank);
        Assert.AreEqual(2, environment.WorldSize);
    }

    [TestMethod]
    public void A_rank_outside_the_world_is_named_with_the_fix()
    {
        var error = Assert.ThrowsExactly<AccelerateException>(() => Read(("OMPI_COMM_WORLD_RANK", "4"), ("OMPI_COMM_WORLD_SIZE", "4")));

        Assert.AreEqual("ACC2002", error.Code);
        StringAssert.Contains(error.Message, "OMPI_COMM_WORLD_RANK=4");
    }

    [TestMethod]
    public void An_unknown_backend_setting_names_the_choices()
    {
        var error = Assert.ThrowsExactly<AccelerateException>(() => CollectiveSettings.Read(name => name == "ACCELERATE_DISTRIBUTED_BACKEND" ? "gloo" : null));

        StringAssert.Contains(error.Message, "auto, tcp, shm, mpi, nccl");
    }
}
