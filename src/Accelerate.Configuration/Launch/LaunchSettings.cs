namespace Accelerate.Configuration.Launch;

/// <summary>
/// Every launch setting, in the order <c>accelerate launch -h</c> lists them: one row per setting with
/// its option, MSBuild property, config key, environment variable, value kind and help. Adding a
/// setting is adding a row here (and the behaviour that reads it); the launcher's options, the SDK's
/// checks and command line, and the property table of docs/sdk.md follow.
/// </summary>
public static class LaunchSettings
{
    private const string Top = "options";
    private const string Hardware = "Hardware selection arguments";
    private const string Resource = "Resource selection arguments";
    private const string Distributed = "Distributed GPUs / multi-machine arguments";
    private const string Torchrun = "torchrun spellings";
    private const string Mpi = "MPI arguments";
    private const string NoEffect = "Accepted for compatibility, no effect";

    /// <summary>All settings in help order.</summary>
    public static IReadOnlyList<LaunchSetting> All { get; } =
    [
        new("config_file", Top, LaunchValueKind.Path, "Config file to read defaults from (default: accelerate's default_config.yaml, if present).")
            { Property = "AccelerateConfig" },
        new("quiet", Top, LaunchValueKind.Flag, "Only print what the ranks print, the errors and the failure summary.") { ShortName = "q" },
        new("debug", Top, LaunchValueKind.Flag, "Set ACCELERATE_DEBUG_MODE=true and print every effective setting and where it came from.")
            { ConfigKey = "debug", Default = "false" },
        new("print_config", Top, LaunchValueKind.Flag, "Print every effective setting and where it came from, then exit without starting anything."),
        new("no_python", Top, LaunchValueKind.Flag, "Run the program as given, even if its name ends in .dll (accepted for HF compatibility)."),
        new("main_training_function", Top, LaunchValueKind.Name, "Name of the [TrainingFunction] to run (ACCELERATE_MAIN_TRAINING_FUNCTION).")
            { Property = "MainTrainingFunction", ConfigKey = "main_training_function", EnvironmentVariable = "ACCELERATE_MAIN_TRAINING_FUNCTION", InvalidValueCode = BuildErrorCode.BadMainTrainingFunction, StartsLauncher = false },
        new("cpu", Hardware, LaunchValueKind.Flag, "Train on CPU only, even where GPUs exist.")
            { Property = "UseCpu", ConfigKey = "use_cpu", InvalidValueCode = BuildErrorCode.BadFlag },
        new("multi_gpu", Hardware, LaunchValueKind.Flag, "One process per GPU (needs at least 2 processes).")
            { Property = "MultiGpu", InvalidValueCode = BuildErrorCode.BadFlag, Default = "false" },
        new("mixed_precision", Resource, LaunchValueKind.Choice, "Mixed precision the ranks use.")
            { Property = "MixedPrecision", ConfigKey = "mixed_precision", AllowedValues = [.. WireNames.Names<MixedPrecision>()], UnsupportedValues = [.. WireNames.UnsupportedMixedPrecisions], Default = "no", InvalidValueCode = BuildErrorCode.BadMixedPrecision },
        new("num_processes", Resource, LaunchValueKind.Count, "Total number of processes across all machines.")
            { Property = "NumProcesses", ConfigKey = "num_processes", InvalidValueCode = BuildErrorCode.BadNumProcesses },
        new("num_machines", Resource, LaunchValueKind.Count, "Number of machines.")
            { Property = "NumMachines", ConfigKey = "num_machines", Default = "1", InvalidValueCode = BuildErrorCode.BadNumMachines,
              SlurmVariables = ["SLURM_STEP_NUM_NODES", "SLURM_NNODES"], PetVariable = "PET_NNODES" },
        new("num_cpu_threads_per_process", Resource, LaunchValueKind.Count, "OMP_NUM_THREADS for each rank (default: $OMP_NUM_THREADS, else cores / local processes).")
            { EnvironmentVariable = "OMP_NUM_THREADS" },
        new("gradient_accumulation_steps", Resource, LaunchValueKind.Count, "Default gradient accumulation steps (ACCELERATE_GRADIENT_ACCUMULATION_STEPS).")
            { Property = "GradientAccumulationSteps", EnvironmentVariable = "ACCELERATE_GRADIENT_ACCUMULATION_STEPS", Default = "1", InvalidValueCode = BuildErrorCode.BadGradientAccumulationSteps },
        new("gpu_ids", Distributed, LaunchValueKind.GpuIds, "GPUs this machine uses: 'all' or a list like 0,2 (CUDA_VISIBLE_DEVICES).")
            { Property = "GpuIds", ConfigKey = "gpu_ids", Default = "all", InvalidValueCode = BuildErrorCode.BadGpuIds },
        new("same_network", Distributed, LaunchValueKind.Flag, "All machines share one network (accepted; static rendezvous always uses main_process_ip).")
            { ConfigKey = "same_network", Default = "false" },
        new("machine_rank", Distributed, LaunchValueKind.Index, "Index of this machine, 0 .. num_machines-1.")
            { Property = "MachineRank", ConfigKey = "machine_rank", Default = "0", InvalidValueCode = BuildErrorCode.BadMachineRank,
              SlurmVariables = ["SLURM_NODEID"], PetVariable = "PET_NODE_RANK" },
        new("main_process_ip", Distributed, LaunchValueKind.Host, "Address of machine 0, where rank 0 serves the rendezvous.")
            { Property = "MainProcessIp", ConfigKey = "main_process_ip", Default = "127.0.0.1", InvalidValueCode = BuildErrorCode.BadMainProcessIp,
              SlurmVariables = ["SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST"], PetVariable = "PET_MASTER_ADDR" },
        new("main_process_port", Distributed, LaunchValueKind.Port, "Port of the rendezvous on machine 0 (0: a free port; default: a free port on one machine, 29500 on several).")
            { Property = "MainProcessPort", ConfigKey = "main_process_port", InvalidValueCode = BuildErrorCode.BadMainProcessPort,
              SlurmVariables = ["SLURM_JOB_ID"], PetVariable = "PET_MASTER_PORT" },
        new("rdzv_backend", Distributed, LaunchValueKind.Choice, "Rendezvous backend: static (each machine gets --machine_rank) or c10d (the same command everywhere; machine ranks are given out at the rendezvous).")
            { ConfigKey = "rdzv_backend", AllowedValues = [.. WireNames.Names<RendezvousBackend>()], Default = "static", PetVariable = "PET_RDZV_BACKEND" },
        new("rdzv_endpoint", Distributed, LaunchValueKind.Text, "With --rdzv_backend c10d: HOST[:PORT] where the machines meet (default port 29400); the launcher that can bind it hosts the rendezvous.")
            { PetVariable = "PET_RDZV_ENDPOINT" },
        new("rdzv_last_call_timeout", Distributed, LaunchValueKind.Seconds, "With c10d and --nnodes MIN:MAX: once MIN machines have joined, seconds to wait for more before starting (rdzv_conf last_call_timeout; default 30).")
            { Default = "30" },
        new("rdzv_timeout", Distributed, LaunchValueKind.Count, "Seconds machines and ranks wait for each other before failing (ACCELERATE_RDZV_TIMEOUT; default 900).")
            { EnvironmentVariable = "ACCELERATE_RDZV_TIMEOUT", Default = "900" },
        new("rdzv_id", Distributed, LaunchValueKind.Text, "Job id (TORCHELASTIC_RUN_ID; default: a new random id).") { PetVariable = "PET_RDZV_ID" },
        new("rdzv_conf", Distributed, LaunchValueKind.Text, "torchrun's rendezvous settings, e.g. timeout=600 (timeout or join_timeout set --rdzv_timeout).")
            { SpellingOf = "rdzv_timeout" },
        new("max_restarts", Distributed, LaunchValueKind.Index, "Restart the whole group up to this many times when a rank fails.")
            { Property = "MaxRestarts", Default = "0", InvalidValueCode = BuildErrorCode.BadMaxRestarts, PetVariable = "PET_MAX_RESTARTS" },
        new("monitor_interval", Distributed, LaunchValueKind.Seconds, "Seconds between health checks of the ranks (default 0.1; exits are noticed at once anyway).")
            { Default = "0.1" },
        new("shutdown_timeout", Distributed, LaunchValueKind.Seconds, "Seconds a rank gets after SIGTERM before SIGKILL (default: $TORCH_ELASTIC_SHUTDOWN_TIMEOUT, else 30).")
            { EnvironmentVariable = "TORCH_ELASTIC_SHUTDOWN_TIMEOUT", Default = "30" },
        new("tee", Distributed, LaunchValueKind.Choice, "Also write rank output to per-rank files (in --log_dir, else a temporary folder): 0 none, 1 stdout, 2 stderr, 3 both.")
            { AllowedValues = ["0", "1", "2", "3"], ShortName = "t", Default = "0" },
        new("log_dir", Distributed, LaunchValueKind.Path, "Directory for per-rank logs and error files: <log_dir>/<run_id>/attempt_<n>/<local_rank>/."),
        new("local_ranks_filter", Distributed, LaunchValueKind.Text, "Only show these local ranks' output on the console, e.g. 0 or 0,2."),
        new("role", Distributed, LaunchValueKind.Text, "Role name (ROLE_NAME; default 'default').") { Default = "default" },
        new("mpirun_hostfile", Mpi, LaunchValueKind.Path, "With --cpu: start the ranks through mpirun --hostfile FILE -np N (Open MPI; MPICH: mpiexec -f FILE -n N) instead of on this machine.")
            { ConfigKey = "mpirun_config.mpirun_hostfile" },
        new("nproc_per_node", Torchrun, LaunchValueKind.Text, "Processes on this machine: a number, cpu, gpu or auto (num_processes = nproc_per_node * num_machines).")
            { SpellingOf = "num_processes", PetVariable = "PET_NPROC_PER_NODE" },
        new("nnodes", Torchrun, LaunchValueKind.Text, "Same as --num_machines; with c10d also MIN:MAX (start with MIN to MAX machines).") { SpellingOf = "num_machines" },
        new("node_rank", Torchrun, LaunchValueKind.Index, "Same as --machine_rank.") { SpellingOf = "machine_rank" },
        new("master_addr", Torchrun, LaunchValueKind.Host, "Same as --main_process_ip.") { SpellingOf = "main_process_ip" },
        new("master_port", Torchrun, LaunchValueKind.Port, "Same as --main_process_port.") { SpellingOf = "main_process_port" },
        new("standalone", Torchrun, LaunchValueKind.Flag, "One machine, a free port: same as --num_machines 1 --main_process_port 0."),
        new("redirects", NoEffect, LaunchValueKind.Text, "torchrun's output redirects (no effect: rank output always reaches the console; see --tee, --log_dir).")
            { ShortName = "r" },
        new("signals_to_handle", NoEffect, LaunchValueKind.Text, "torchrun's signals to forward (no effect: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 always reach the ranks)."),
        new("local_addr", NoEffect, LaunchValueKind.Host, "torchrun's address of this machine for the c10d store (no effect)."),
        new("start_method", NoEffect, LaunchValueKind.Choice, "torchrun's Python process start method (no effect: ranks are always new processes).")
            { AllowedValues = ["spawn", "fork", "forkserver"] },
        new("enable_cpu_affinity", NoEffect, LaunchValueKind.Flag, "HF's CPU affinity (no effect: the ranks of a machine already get separate CPUs, ACCELERATE_CPU_AFFINITY, on by default)."),
        new("dynamo_backend", NoEffect, LaunchValueKind.Text, "torch.compile backend: only 'no' (accepted, no effect); other backends are refused (ACC3074)."),
    ];

    /// <summary>HF accelerate features this product does not have; their options are refused with the feature's code.</summary>
    public static IReadOnlyList<UnsupportedFeature> Unsupported { get; } =
    [
        new("DeepSpeed", "ACC3070", "Train with the built-in data parallelism (drop the DeepSpeed options).")
        {
            Options = ["use_deepspeed", "zero_stage", "offload_optimizer_device", "offload_param_device", "offload_optimizer_nvme_path",
                "offload_param_nvme_path", "gradient_clipping", "zero3_init_flag", "zero3_save_16bit_model"],
            Prefixes = ["deepspeed_"],
        },
        new("FSDP", "ACC3071", "Train with the built-in data parallelism (drop the FSDP options).") { Options = ["use_fsdp"], Prefixes = ["fsdp_"] },
        new("Megatron-LM", "ACC3072", "Train with the built-in data parallelism (drop the Megatron-LM options).") { Options = ["use_megatron_lm"], Prefixes = ["megatron_lm_"] },
        new("TPU", "ACC3073", "Run on CPU or GPUs (drop the TPU options).") { Options = ["tpu", "no_tpu_cluster", "vm", "env", "downcast_bf16"], Prefixes = ["tpu_"] },
        new("torch.compile (dynamo)", "ACC3074", "Drop the dynamo options, or give --dynamo_backend no.")
            { ValueOf = "dynamo_backend", KeptValue = "no", Prefixes = ["dynamo_"] },
        new("fp8 mixed precision", "ACC3075", "Use --mixed_precision bf16 or fp16.")
            { ValueOf = "mixed_precision", RefusedValues = [.. WireNames.UnsupportedMixedPrecisions], Prefixes = ["fp8_"] },
    ];

    /// <summary>The settings the SDK offers as MSBuild properties.</summary>
    public static IEnumerable<LaunchSetting> Properties => All.Where(s => s.Property is not null);

    /// <summary>The setting with this option name (<c>num_processes</c>), or null.</summary>
    public static LaunchSetting? ByOption(string option) => All.FirstOrDefault(s => s.Option == option);

    /// <summary>The setting with this MSBuild property, or null.</summary>
    public static LaunchSetting? ByProperty(string property) => All.FirstOrDefault(s => s.Property == property);

    /// <summary>The other launcher's spelling that gives <paramref name="option"/> a value (<c>nnodes</c> for <c>num_machines</c>), or null.</summary>
    public static string? SpellingFor(string option) => All.FirstOrDefault(s => s.SpellingOf == option)?.Option;
}
