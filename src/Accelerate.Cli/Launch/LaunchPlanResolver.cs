using System.Globalization;
using Accelerate.Configuration;
using Accelerate.Configuration.Launch;
namespace Accelerate.Cli.Launch;

/// <summary>
/// Combines the command line, the config file, the job the launcher runs in (SLURM, a PyTorchJob's <c>PET_*</c>),
/// the environment and defaults into a <see cref="LaunchPlan"/>, in that order of precedence, and checks the result.
/// Records where every value came from.
/// </summary>
internal sealed class LaunchPlanResolver
{
    private readonly LaunchArguments _args;
    private readonly ClusterConfig? _config;
    private readonly string _configPath;
    private readonly Func<string, string?> _environment;
    private readonly SchedulerSettings _scheduler;
    private readonly List<EffectiveSetting> _settings = [];
    private readonly List<string> _notes = [];

    private LaunchPlanResolver(LaunchArguments args, LoadedConfig? config, Func<string, string?> environment)
    {
        _args = args;
        _config = config?.Config;
        _configPath = config?.Path ?? "";
        _environment = environment;
        _scheduler = new SchedulerSettings(environment);
    }

    /// <summary>Resolves a plan. <paramref name="gpuCount"/> and <paramref name="cores"/> describe this machine.</summary>
    public static LaunchPlan Resolve(LaunchArguments args, LoadedConfig? config, Func<string, string?> environment, int gpuCount, int cores)
        => new LaunchPlanResolver(args, config, environment).Build(gpuCount, cores);

    private LaunchPlan Build(int gpuCount, int cores)
    {
        if (_args.Program is null)
            throw new LaunchException(LaunchErrorCode.NoProgram, "No program given. Usage: accelerate launch [options] <program.dll | executable | project> [program args...] (see 'accelerate launch -h').");

        var cpuFlag = Bool("cpu");
        var multiGpuFlag = Bool("multi_gpu");
        if (cpuFlag == true && multiGpuFlag == true)
            throw new LaunchException(LaunchErrorCode.Contradiction, "--cpu and --multi_gpu contradict each other: give one of them.");

        var configType = _config?.DistributedType;
        var useCpu = Pick("cpu", cpuFlag,
            _config?.UseCpu == true || configType == DistributedType.MultiCpu ? true : _config?.UseCpu,
            null, gpuCount == 0, gpuCount == 0 ? "no GPU found" : $"{gpuCount} GPU(s) found");
        var multiGpu = !useCpu && Pick("multi_gpu", multiGpuFlag, configType == DistributedType.MultiGpu ? true : null, null, false, "");

        var standalone = Bool("standalone") == true;
        var dynamic = IsDynamicRendezvous();
        var (minMachines, maxMachines) = MachineRange(dynamic);
        var numMachines = Pick("num_machines", maxMachines ?? Int("num_machines", Alias("num_machines"), 1), _config?.NumMachines, null, 1, "one machine");
        if (standalone && numMachines != 1)
            throw new LaunchException(LaunchErrorCode.Contradiction, $"--standalone runs on one machine, but --num_machines is {numMachines}: drop one of them.");
        var machineRankFlag = Int("machine_rank", Alias("machine_rank"), 0);
        if (dynamic && machineRankFlag is not null)
            throw new LaunchException(LaunchErrorCode.Contradiction, $"{FlagSpelling("machine_rank")} is given out by the c10d rendezvous: drop it, or use --rdzv_backend static.");
        var machineRank = Pick("machine_rank", machineRankFlag, dynamic ? null : _config?.MachineRank, null, 0, dynamic ? "given out at the rendezvous" : "machine 0");
        if (machineRank >= numMachines)
            throw new LaunchException(LaunchErrorCode.BadValue, $"--machine_rank {machineRank} is out of range: with --num_machines {numMachines} it must be 0..{numMachines - 1}.");

        var perGpu = useCpu ? 1 : Math.Max(gpuCount, 1);
        var nprocPerNode = ProcessesPerNode(_args.Get("nproc_per_node"), _args.Spellings.GetValueOrDefault("nproc_per_node"), gpuCount, cores);
        var numProcessesFlag = Int("num_processes", null, 1);
        // A PyTorchJob's PET_NPROC_PER_NODE counts the processes of one pod, as --nproc_per_node does.
        _scheduledProcesses = numProcessesFlag is null && nprocPerNode is null && _scheduler.Value("nproc_per_node") is { } perPod
            ? (ProcessesPerNode(perPod.Text, perPod.Source, gpuCount, cores)!.Value * numMachines, perPod.Origin, $"{perPod.Source} × num_machines")
            : null;
        if (nprocPerNode is { } perNode && numProcessesFlag is { } total && perNode * numMachines != total)
            throw new LaunchException(LaunchErrorCode.Contradiction, $"--num_processes {total} (total) and --nproc_per_node {perNode} (per machine) disagree with --num_machines {numMachines}: give only one of them.");
        var numProcesses = Pick("num_processes", numProcessesFlag ?? nprocPerNode * numMachines, _config?.NumProcesses is > 0 ? _config.NumProcesses : null,
            null, perGpu * numMachines, useCpu ? "one CPU process per machine" : "one process per GPU");
        if (numProcesses % numMachines != 0)
            throw new LaunchException(LaunchErrorCode.BadValue, $"--num_processes {numProcesses} does not split evenly over --num_machines {numMachines}: use a multiple of {numMachines}.");
        if (multiGpu && numProcesses < 2)
            throw new LaunchException(LaunchErrorCode.Contradiction, $"--multi_gpu needs at least 2 processes, but --num_processes is {numProcesses}: pass --num_processes 2 or more, or drop --multi_gpu.");
        if (multiGpu && gpuCount == 0)
            throw new LaunchException(LaunchErrorCode.Contradiction, "--multi_gpu: no GPU found on this machine. Use --cpu to run the processes on the CPU.");
        if (configType == DistributedType.MultiGpu && gpuCount == 0 && cpuFlag is null)
            _notes.Add($"distributed_type MULTI_GPU in {_configPath}, but no GPU found on this machine: running on the CPU.");

        var mixedPrecisionName = PickText("mixed_precision", _args.Get("mixed_precision"), _config?.MixedPrecision?.ToWire(), null, "no", "full precision");
        if (!Allowed("mixed_precision").Contains(mixedPrecisionName) || !WireNames.TryParse<MixedPrecision>(mixedPrecisionName, out var mixedPrecision))
            throw new LaunchException(LaunchErrorCode.BadValue, $"mixed_precision '{mixedPrecisionName}' in {_configPath} is not allowed: use {OneOf("mixed_precision")}.");

        var endpoint = dynamic ? Endpoint() : null;
        var mainIp = PickText("main_process_ip", Text("main_process_ip", Alias("main_process_ip")!) ?? (_args.Get("rdzv_endpoint") is null ? null : endpoint?.Host), _config?.MainProcessIp, null, "127.0.0.1", "this machine");
        if (numMachines > 1 && Origin("main_process_ip") == SettingOrigin.Default && dynamic)
            throw new LaunchException(LaunchErrorCode.MainProcessIp, $"--rdzv_endpoint HOST:PORT is needed with --rdzv_backend c10d on several machines: give the address of one machine every machine can reach (its launcher hosts the rendezvous), the same on every machine.");
        if (numMachines > 1 && Origin("main_process_ip") == SettingOrigin.Default)
            throw new LaunchException(LaunchErrorCode.MainProcessIp, $"--main_process_ip is needed with --num_machines {numMachines}: give the address of machine 0 that every machine can reach.");
        var portFlag = standalone ? 0 : Int("main_process_port", Alias("main_process_port"), 0) ?? (_args.Get("rdzv_endpoint") is null ? null : endpoint?.Port);
        var port = Pick("main_process_port", portFlag, _config?.MainProcessPort, null, numMachines == 1 ? 0 : 29500,
            numMachines == 1 ? "0 = a free port" : "torchrun's default");
        if (port > 65535) throw new LaunchException(LaunchErrorCode.BadValue, $"--main_process_port {port} is not a port: use 1..65535, or 0 for a free one.");
        if (numMachines > 1 && port == 0)
            throw new LaunchException(LaunchErrorCode.BadValue, "--main_process_port 0 (a free port) only works on one machine: every machine must be told the same port.");

        PickText("rdzv_backend", _args.Get("rdzv_backend"), _config?.RdzvBackend?.ToWire(), null, "static", "");
        PickText("rdzv_endpoint", _args.Get("rdzv_endpoint"), null, null, "", dynamic ? "--main_process_ip:--main_process_port" : "not used by the static rendezvous");
        Pick("same_network", Bool("same_network"), _config?.SameNetwork, null, false, "");
        var rdzvTimeout = Pick("rdzv_timeout", Int("rdzv_timeout", null, 1) ?? RendezvousConfTimeout(), null, EnvInt(Variable("rdzv_timeout")), 900, "torchrun's static rendezvous");
        var lastCall = Pick("rdzv_last_call_timeout", Seconds("rdzv_last_call_timeout") ?? ConfSeconds("last_call_timeout"), null, null, 30.0, "torchrun's c10d last call");
        var hostfile = PickText("mpirun_hostfile", _args.Get("mpirun_hostfile"), _config?.MpirunHostfile, null, "", "the launcher starts the ranks itself");
        // As HF accelerate: mpirun places CPU ranks only (MULTI_CPU).
        if (hostfile.Length > 0 && !useCpu)
        {
            if (Origin("mpirun_hostfile") == SettingOrigin.Flag)
                throw new LaunchException(LaunchErrorCode.Contradiction, $"--mpirun_hostfile {hostfile} starts CPU ranks through mpirun, but this launch uses GPUs: add --cpu, or drop --mpirun_hostfile.");
            _notes.Add($"mpirun_config (hostfile {hostfile}) in {_configPath} is not used: mpirun places CPU ranks only, and this launch uses GPUs.");
            hostfile = "";
        }

        var gpuIds = PickText("gpu_ids", _args.Get("gpu_ids"), _config?.GpuIds, null, "all", "every GPU");
        if (gpuIds != "all" && !gpuIds.Split(',').All(id => int.TryParse(id.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            throw new LaunchException(LaunchErrorCode.BadValue, $"--gpu_ids '{gpuIds}' is not allowed: use 'all' or GPU numbers separated by commas, like 0,2.");

        var local = numProcesses / numMachines;
        var threads = Pick("num_cpu_threads_per_process", Int("num_cpu_threads_per_process", null, 1), null, EnvInt(Variable("num_cpu_threads_per_process")),
            Math.Max(1, cores / local), $"{cores} cores / {local} local processes");
        var accumulation = Pick("gradient_accumulation_steps", Int("gradient_accumulation_steps", null, 1), null, EnvInt(Variable("gradient_accumulation_steps")), 1, "");
        var debug = Pick("debug", Bool("debug"), _config?.Debug, null, false, "");
        var function = PickText("main_training_function", _args.Get("main_training_function"), _config?.MainTrainingFunction,
            _environment(Variable("main_training_function")) is { Length: > 0 } f ? (Variable("main_training_function"), f) : null, "", "the program's only [TrainingFunction]");
        var maxRestarts = Pick("max_restarts", Int("max_restarts", null, 0), null, null, 0, "");
        var monitor = Pick("monitor_interval", Seconds("monitor_interval"), null, null, 0.1, "");
        var shutdown = Pick("shutdown_timeout", Seconds("shutdown_timeout"), null,
            _environment(Variable("shutdown_timeout")) is { } s && double.TryParse(s, CultureInfo.InvariantCulture, out var sv) ? (Variable("shutdown_timeout"), sv) : null, 30.0, "torchrun's grace");
        var tee = Pick("tee", Int("tee", null, 0), null, null, 0, "console only");
        var logDir = PickText("log_dir", _args.Get("log_dir"), null, null, "", "a temporary folder for error files");
        var filterText = PickText("local_ranks_filter", _args.Get("local_ranks_filter"), null, null, "", "every rank");
        var role = PickText("role", _args.Get("role"), null, null, "default", "");
        var runId = PickText("rdzv_id", _args.Get("rdzv_id"), null, null, "", "a new random id");
        if (runId.Length > 256 || runId.Any(c => c <= ' ' || c >= (char)127))
            throw new LaunchException(LaunchErrorCode.BadValue, $"{(Origin("rdzv_id") == SettingOrigin.Flag ? _args.Spellings["rdzv_id"] : _settings.Last(s => s.Name == "rdzv_id").Source)} '{runId}' is not allowed: use at most 256 printable ASCII characters without spaces, like $SLURM_JOB_ID.");

        return new LaunchPlan
        {
            Program = _args.Program,
            ProgramArguments = _args.ProgramArguments,
            UseCpu = useCpu,
            MultiGpu = multiGpu,
            MixedPrecision = mixedPrecision,
            NumProcesses = numProcesses,
            NumMachines = numMachines,
            MachineRank = machineRank,
            MainProcessIp = mainIp,
            MainProcessPort = port,
            DynamicRendezvous = dynamic,
            MinMachines = minMachines ?? numMachines,
            LastCallTimeout = TimeSpan.FromSeconds(lastCall),
            RendezvousTimeout = TimeSpan.FromSeconds(rdzvTimeout),
            RunId = runId.Length == 0 ? null : runId,
            MaxRestarts = maxRestarts,
            MonitorInterval = TimeSpan.FromSeconds(monitor),
            ShutdownTimeout = TimeSpan.FromSeconds(shutdown),
            Tee = tee,
            LogDirectory = logDir.Length == 0 ? null : logDir,
            LocalRanksFilter = ParseFilter(filterText, local),
            Role = role,
            ThreadsPerProcess = threads,
            GradientAccumulationSteps = accumulation,
            GpuIds = gpuIds == "all" ? null : gpuIds,
            Debug = debug,
            Quiet = Bool("quiet") == true,
            PrintConfigOnly = Bool("print_config") == true,
            NoPython = Bool("no_python") == true,
            MainTrainingFunction = function.Length == 0 ? null : function,
            MpirunHostfile = hostfile.Length == 0 ? null : hostfile,
            Settings = _settings,
            DefaultsMessage = DefaultsMessage(),
            Notes = _notes,
        };
    }

    /// <summary>HF accelerate's warning when neither a config file nor flags set the basics.</summary>
    private string? DefaultsMessage()
    {
        if (_config is not null) return null;
        var defaulted = _settings.Where(s => s.Origin == SettingOrigin.Default && s.Name is "num_processes" or "num_machines" or "mixed_precision" or "cpu").ToList();
        if (defaulted.Count == 0) return null;
        var lines = defaulted.Select(s => $"\t`--{s.Name}` was set to a value of `{s.Value}`" + (s.Source.Length > 0 ? $" ({s.Source})" : ""));
        return "The following values were not passed to `accelerate launch` and had defaults used instead:\n"
            + string.Join('\n', lines)
            + "\nTo avoid this warning pass in values for each of the problematic parameters or run `accelerate config`.";
    }

    private T Pick<T>(string name, T? flag, T? fromConfig, (string Variable, T Value)? fromEnvironment, T fallback, string why) where T : struct
        => Choose(name, flag.HasValue, flag.GetValueOrDefault(), fromConfig.HasValue, fromConfig.GetValueOrDefault(), fromEnvironment, fallback, why);

    private string PickText(string name, string? flag, string? fromConfig, (string Variable, string Value)? fromEnvironment, string fallback, string why)
        => Choose(name, flag is not null, flag!, fromConfig is not null, fromConfig!, fromEnvironment, fallback, why);

    private T Choose<T>(string name, bool hasFlag, T flag, bool hasConfig, T fromConfig, (string Variable, T Value)? fromEnvironment, T fallback, string why)
    {
        var scheduled = hasFlag || hasConfig ? null : Scheduled(name);
        var (value, origin, source) = hasFlag ? (flag, SettingOrigin.Flag, FlagSpelling(name))
            : hasConfig ? (fromConfig, SettingOrigin.ConfigFile, _configPath)
            : scheduled is { } job ? ((T)Convert.ChangeType(job.Text, typeof(T), CultureInfo.InvariantCulture), job.Origin, job.Source)
            : fromEnvironment is { } env ? (env.Value, SettingOrigin.Environment, env.Variable)
            : (fallback, SettingOrigin.Default, why);
        _settings.Add(new EffectiveSetting(name, value is bool b ? (b ? "true" : "false") : Convert.ToString(value, CultureInfo.InvariantCulture) ?? "", origin, source));
        return value;
    }

    private (int Value, SettingOrigin Origin, string Source)? _scheduledProcesses;

    /// <summary>What the job gives <paramref name="name"/> (<see cref="SchedulerSettings"/>).</summary>
    private (string Text, SettingOrigin Origin, string Source)? Scheduled(string name)
        => name == "num_processes"
            ? _scheduledProcesses is { } processes ? (processes.Value.ToString(CultureInfo.InvariantCulture), processes.Origin, processes.Source) : null
            : _fromEndpoint.TryGetValue(name, out var endpoint) ? endpoint
            : _scheduler.Value(name);

    /// <summary>The address and port of a <c>PET_RDZV_ENDPOINT</c>, which win over <c>PET_MASTER_ADDR</c>/<c>PET_MASTER_PORT</c>.</summary>
    private readonly Dictionary<string, (string Text, SettingOrigin Origin, string Source)> _fromEndpoint = [];

    private string FlagSpelling(string name)
    {
        foreach (var key in new[] { name, Alias(name) })
            if (key is not null && _args.Spellings.TryGetValue(key, out var spelling)) return spelling;
        return name == "main_process_port" && _args.Get("standalone") == "true" ? "--standalone" : "--" + name;
    }

    /// <summary>torchrun's spelling that also sets <paramref name="name"/> (<c>nnodes</c> for <c>num_machines</c>).</summary>
    private static string? Alias(string name) => LaunchSettings.SpellingFor(name);

    /// <summary>The environment variable a setting falls back to, as <see cref="LaunchSettings"/> names it.</summary>
    private static string Variable(string name) => LaunchSettings.ByOption(name)!.EnvironmentVariable!;

    private static string[] Allowed(string name) => LaunchSettings.ByOption(name)!.AllowedValues!;

    /// <summary>"no, fp16 or bf16".</summary>
    private static string OneOf(string name) => Allowed(name) is var values && values.Length > 1
        ? string.Join(", ", values[..^1]) + " or " + values[^1]
        : values[0];

    private SettingOrigin Origin(string name) => _settings.Last(s => s.Name == name).Origin;

    private bool? Bool(string name) => _args.Get(name) is { } v ? v == "true" : null;

    private string? Text(string name, string alias)
    {
        var (a, b) = (_args.Get(name), _args.Get(alias));
        if (a is not null && b is not null && a != b)
            throw new LaunchException(LaunchErrorCode.Contradiction, $"{_args.Spellings[name]} {a} and {_args.Spellings[alias]} {b} disagree: give only one.");
        return a ?? b;
    }

    private int? Int(string name, string? alias, int minimum)
    {
        var text = alias is null ? _args.Get(name) : Text(name, alias);
        if (text is null) return null;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= minimum) return value;
        var spelling = _args.Spellings.GetValueOrDefault(name) ?? (alias is null ? "--" + name : _args.Spellings[alias]);
        throw new LaunchException(LaunchErrorCode.BadValue, $"{spelling} '{text}' is not allowed: use a whole number of at least {minimum}.");
    }

    /// <summary>Whether <c>--rdzv_backend</c> (flag, else config file) is c10d; checks the value.</summary>
    private bool IsDynamicRendezvous()
    {
        // A PyTorchJob with an elasticPolicy says c10d in PET_RDZV_BACKEND.
        var scheduled = _args.Get("rdzv_backend") is null && _config?.RdzvBackend is null ? _scheduler.Value("rdzv_backend") : null;
        var backend = _args.Get("rdzv_backend") ?? _config?.RdzvBackend?.ToWire() ?? scheduled?.Text ?? "static";
        if (!Allowed("rdzv_backend").Contains(backend))
            throw new LaunchException(LaunchErrorCode.BadValue, _args.Get("rdzv_backend") is not null
                ? $"{_args.Spellings["rdzv_backend"]} '{backend}' is not allowed: use {OneOf("rdzv_backend")}."
                : scheduled is not null
                ? $"The environment variable {scheduled.Value.Source}='{backend}' is not allowed: use {OneOf("rdzv_backend")}, or pass --rdzv_backend yourself."
                : $"rdzv_backend '{backend}' in {_configPath} is not allowed: use {OneOf("rdzv_backend")}.");
        _scheduler.DynamicRendezvous = backend == "c10d";
        return backend == "c10d";
    }

    /// <summary>torchrun's <c>--nnodes MIN:MAX</c> (c10d only), or nulls when the value is a single number (or not given).</summary>
    private (int? Min, int? Max) MachineRange(bool dynamic)
    {
        if (_args.Get("nnodes") is not { } text || !text.Contains(':'))
            // An elastic PyTorchJob's PET_NNODES MIN:MAX gives MIN here (and MAX as num_machines), unless the command line or the config file says otherwise.
            return (_args.Get("nnodes") is null && _args.Get("num_machines") is null && _config?.NumMachines is null ? _scheduler.MinMachines() : null, null);
        var spelling = _args.Spellings["nnodes"];
        if (_args.Get("num_machines") is not null)
            throw new LaunchException(LaunchErrorCode.Contradiction, $"{_args.Spellings["num_machines"]} and {spelling} {text} disagree: give only {spelling}.");
        var parts = text.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var min)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var max) || min < 1 || max < min)
            throw new LaunchException(LaunchErrorCode.BadValue, $"{spelling} '{text}' is not allowed: use a number of machines, or MIN:MAX with 1 <= MIN <= MAX, like 2:4.");
        if (!dynamic && min != max)
            throw new LaunchException(LaunchErrorCode.Contradiction, $"{spelling} {text}: a range of machines needs --rdzv_backend c10d (the static rendezvous waits for a fixed number); add it, or give one number.");
        return (min, max);
    }

    /// <summary>A number of seconds from <c>--rdzv_conf</c>, or null when that key is not there.</summary>
    private double? ConfSeconds(string key)
    {
        if (_args.Get("rdzv_conf") is not { } text) return null;
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (pair.Split('=', 2) is [var name, var value] && name == key)
                return int.Parse(value, CultureInfo.InvariantCulture);
        return null;
    }

    /// <summary>torchrun's <c>--rdzv_endpoint HOST[:PORT]</c> (IPv6 in brackets; default port 29400), or null when not given.</summary>
    private (string Host, int Port)? Endpoint()
    {
        var scheduled = _args.Get("rdzv_endpoint") is null ? _scheduler.Value("rdzv_endpoint") : null;
        if ((_args.Get("rdzv_endpoint") ?? scheduled?.Text) is not { } text) return null;
        var what = scheduled is { } pet ? $"The environment variable {pet.Source}='{text}'" : $"{_args.Spellings["rdzv_endpoint"]} '{text}'";
        var (host, port) = (text, "29400");
        var colon = text.LastIndexOf(':');
        if (text.StartsWith('[') && text.IndexOf(']') is var close and > 0)
            (host, port) = (text[1..close], close + 1 < text.Length && text[close + 1] == ':' ? text[(close + 2)..] : port);
        else if (colon >= 0)
            (host, port) = (text[..colon], text[(colon + 1)..]);
        if (host.Length == 0 || host.Contains(':') && !text.StartsWith('[') || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
            throw new LaunchException(LaunchErrorCode.BadEndpoint, $"{what} is not HOST[:PORT]: give the address of one machine every machine can reach and a port 1..65535, like 10.0.0.1:29400.");
        // From PET_RDZV_ENDPOINT, the address and port say where they came from.
        if (scheduled is { } source)
        {
            _fromEndpoint["main_process_ip"] = (host, source.Origin, source.Source);
            _fromEndpoint["main_process_port"] = (number.ToString(CultureInfo.InvariantCulture), source.Origin, source.Source);
        }
        return (host, number);
    }

    /// <summary>torchrun's <c>--rdzv_conf k=v,...</c>: its <c>timeout</c> / <c>join_timeout</c> (seconds) set the rendezvous timeout.</summary>
    private int? RendezvousConfTimeout()
    {
        if (_args.Get("rdzv_conf") is not { } text) return null;
        int? timeout = null;
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', 2);
            if (parts.Length == 2 && parts[0] is "timeout" or "join_timeout" or "last_call_timeout" or "close_timeout" or "read_timeout"
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
            {
                if (parts[0] is "timeout" or "join_timeout") timeout = seconds;
                continue;
            }
            throw new LaunchException(LaunchErrorCode.BadValue, $"{_args.Spellings["rdzv_conf"]} '{pair}' is not allowed: use key=seconds pairs separated by commas, with timeout or join_timeout (others are accepted and ignored), like timeout=600.");
        }
        return timeout;
    }

    /// <summary>torchrun's <c>--nproc_per_node</c>: a number, or <c>cpu</c> (cores), <c>gpu</c> (GPUs), <c>auto</c> (GPUs, else cores).</summary>
    private static int? ProcessesPerNode(string? text, string? spelling, int gpuCount, int cores) => text switch
    {
        null => null,
        "cpu" => cores,
        "auto" => gpuCount > 0 ? gpuCount : cores,
        "gpu" when gpuCount > 0 => gpuCount,
        "gpu" => throw new LaunchException(LaunchErrorCode.BadValue, $"{spelling} gpu: no GPU found on this machine. Use a number, cpu or auto."),
        _ when int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count >= 1 => count,
        _ => throw new LaunchException(LaunchErrorCode.BadValue, $"{spelling} '{text}' is not allowed: use a whole number of at least 1, or cpu, gpu or auto."),
    };

    private double? Seconds(string name)
    {
        if (_args.Get(name) is not { } text) return null;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0) return value;
        throw new LaunchException(LaunchErrorCode.BadValue, $"{_args.Spellings[name]} '{text}' is not allowed: use a number of seconds, like 0.5 or 30.");
    }

    private (string, int)? EnvInt(string variable) =>
        LaunchValues.Int(_environment, variable, static (variable, text) => new LaunchException(LaunchErrorCode.BadValue,
            $"The environment variable {variable}='{text}' is not a whole number of at least 1: fix or unset it."), minimum: 1) is { } value
            ? (variable, value)
            : null;

    private IReadOnlySet<int>? ParseFilter(string text, int local)
    {
        if (text.Length == 0) return null;
        var ranks = new HashSet<int>();
        foreach (var part in text.Split(','))
        {
            if (!int.TryParse(part.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var rank) || rank >= local)
                throw new LaunchException(LaunchErrorCode.BadValue, $"{_args.Spellings["local_ranks_filter"]} '{text}' is not allowed: use local ranks 0..{local - 1} separated by commas, like 0 or 0,2.");
            ranks.Add(rank);
        }
        return ranks;
    }
}
