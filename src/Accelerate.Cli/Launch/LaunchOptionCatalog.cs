using System.Text;

namespace Accelerate.Cli.Launch;

/// <summary>Every option <c>accelerate launch</c> understands, with HF accelerate's names and torchrun's as aliases.</summary>
internal static class LaunchOptionCatalog
{
    private const string Top = "options";
    private const string Hardware = "Hardware selection arguments";
    private const string Resource = "Resource selection arguments";
    private const string Distributed = "Distributed GPUs / multi-machine arguments";
    private const string Torchrun = "torchrun spellings";

    /// <summary>All options in help order.</summary>
    public static readonly LaunchOption[] All =
    [
        new("config_file", Top, true, "Config file to read defaults from (default: accelerate's default_config.yaml, if present)."),
        new("quiet", Top, false, "Only print what the ranks print, the errors and the failure summary.", null, "q"),
        new("debug", Top, false, "Set ACCELERATE_DEBUG_MODE=true and print every effective setting and where it came from."),
        new("print_config", Top, false, "Print every effective setting and where it came from, then exit without starting anything."),
        new("no_python", Top, false, "Run the program as given, even if its name ends in .dll (accepted for HF compatibility)."),
        new("main_training_function", Top, true, "Name of the [TrainingFunction] to run (ACCELERATE_MAIN_TRAINING_FUNCTION)."),
        new("cpu", Hardware, false, "Train on CPU only, even where GPUs exist."),
        new("multi_gpu", Hardware, false, "One process per GPU (needs at least 2 processes)."),
        new("mixed_precision", Resource, true, "Mixed precision the ranks use.", ["no", "fp16", "bf16"]),
        new("num_processes", Resource, true, "Total number of processes across all machines."),
        new("num_machines", Resource, true, "Number of machines."),
        new("num_cpu_threads_per_process", Resource, true, "OMP_NUM_THREADS for each rank (default: $OMP_NUM_THREADS, else cores / local processes)."),
        new("gradient_accumulation_steps", Resource, true, "Default gradient accumulation steps (ACCELERATE_GRADIENT_ACCUMULATION_STEPS)."),
        new("gpu_ids", Distributed, true, "GPUs this machine uses: 'all' or a list like 0,2 (CUDA_VISIBLE_DEVICES)."),
        new("same_network", Distributed, false, "All machines share one network (accepted; static rendezvous always uses main_process_ip)."),
        new("machine_rank", Distributed, true, "Index of this machine, 0 .. num_machines-1."),
        new("main_process_ip", Distributed, true, "Address of machine 0, where rank 0 serves the rendezvous."),
        new("main_process_port", Distributed, true, "Port of the rendezvous on machine 0 (0: a free port; default: a free port on one machine, 29500 on several)."),
        new("rdzv_backend", Distributed, true, "Rendezvous backend.", ["static", "c10d"]),
        new("rdzv_timeout", Distributed, true, "Seconds machines and ranks wait for each other before failing (ACCELERATE_RDZV_TIMEOUT; default 900)."),
        new("rdzv_id", Distributed, true, "Job id (TORCHELASTIC_RUN_ID; default: a new random id)."),
        new("rdzv_conf", Distributed, true, "torchrun's rendezvous settings, e.g. timeout=600 (timeout or join_timeout set --rdzv_timeout)."),
        new("max_restarts", Distributed, true, "Restart the whole group up to this many times when a rank fails."),
        new("monitor_interval", Distributed, true, "Seconds between health checks of the ranks (default 0.1; exits are noticed at once anyway)."),
        new("shutdown_timeout", Distributed, true, "Seconds a rank gets after SIGTERM before SIGKILL (default: $TORCH_ELASTIC_SHUTDOWN_TIMEOUT, else 30)."),
        new("tee", Distributed, true, "Also write rank output to per-rank files (in --log_dir, else a temporary folder): 0 none, 1 stdout, 2 stderr, 3 both.", ["0", "1", "2", "3"], "t"),
        new("log_dir", Distributed, true, "Directory for per-rank logs and error files: <log_dir>/<run_id>/attempt_<n>/<local_rank>/."),
        new("local_ranks_filter", Distributed, true, "Only show these local ranks' output on the console, e.g. 0 or 0,2."),
        new("role", Distributed, true, "Role name (ROLE_NAME; default 'default')."),
        new("nproc_per_node", Torchrun, true, "Processes on this machine: a number, cpu, gpu or auto (num_processes = nproc_per_node * num_machines)."),
        new("nnodes", Torchrun, true, "Same as --num_machines."),
        new("node_rank", Torchrun, true, "Same as --machine_rank."),
        new("master_addr", Torchrun, true, "Same as --main_process_ip."),
        new("master_port", Torchrun, true, "Same as --main_process_port."),
        new("standalone", Torchrun, false, "One machine, a free port: same as --num_machines 1 --main_process_port 0."),
    ];

    private static readonly Dictionary<string, LaunchOption> BySpelling = Index();

    /// <summary>Finds an option by any spelling (<c>num-processes</c>, <c>num_processes</c>, <c>q</c>).</summary>
    public static LaunchOption? Find(string spelling) => BySpelling.GetValueOrDefault(spelling.Replace('-', '_'));

    /// <summary>The text of <c>accelerate launch -h</c>.</summary>
    public static string Help()
    {
        var text = new StringBuilder();
        text.AppendLine("usage: accelerate launch [options] <program> [program args...]");
        text.AppendLine();
        text.AppendLine("<program> is a .dll (run with this dotnet), a native executable, or a project file or folder");
        text.AppendLine("(built, then its output run). Everything after it, or after '--', goes to the program untouched.");
        text.AppendLine("Every option is also spelled with dashes (--num-processes) and takes its value as '--opt v' or '--opt=v'.");
        foreach (var group in All.GroupBy(o => o.Group))
        {
            text.AppendLine();
            text.AppendLine(group.Key + ":");
            foreach (var option in group)
            {
                var spelling = string.Join(", ", option.Aliases.Where(a => a.Length == 1).Select(a => "-" + a).Append("--" + option.Name));
                if (option.TakesValue) spelling += " " + option.ValueHint;
                // As argparse: a spelling too long for the column gets its help on the next line.
                text.AppendLine(spelling.Length < 44 ? $"  {spelling,-44} {option.Help}" : $"  {spelling}\n  {"",-44} {option.Help}");
            }
        }
        text.AppendLine();
        text.AppendLine("Precedence: command line, then the config file, then the environment, then defaults (see --print_config).");
        return text.ToString();
    }

    private static Dictionary<string, LaunchOption> Index()
    {
        var index = new Dictionary<string, LaunchOption>(StringComparer.Ordinal);
        foreach (var option in All)
        {
            index[option.Name] = option;
            foreach (var alias in option.Aliases) index[alias] = option;
        }
        return index;
    }
}
