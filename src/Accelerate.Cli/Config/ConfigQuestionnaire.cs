using System.Net;
using Accelerate.Configuration;
using Spectre.Console;

namespace Accelerate.Cli.Config;

/// <summary>
/// The questions of <c>accelerate config</c> for this machine, in HF accelerate's order: environment, machine type,
/// machines, rank, main IP/port, same network, rendezvous backend, debug checks, CPU only, mpirun, processes,
/// GPU ids, NUMA affinity, mixed precision. Menus use the arrow keys; typed answers are checked and asked again when wrong.
/// </summary>
internal sealed class ConfigQuestionnaire(IAnsiConsole console)
{
    private const string ThisMachine = "This machine";
    private const string Sagemaker = "AWS (Amazon SageMaker)";
    private static readonly (string Label, DistributedType Type)[] MachineTypes =
        [("No distributed training", DistributedType.No), ("multi-CPU", DistributedType.MultiCpu), ("multi-GPU", DistributedType.MultiGpu)];

    /// <summary>Asks every question that applies and returns the answers as a config (null when the user chose an unsupported environment).</summary>
    public ClusterConfig? Ask()
    {
        if (Choose("In which compute environment are you running?", [ThisMachine, Sagemaker]) == Sagemaker)
            return null;

        var typeLabel = Choose("Which type of machine are you using?", MachineTypes.Select(m => m.Label).ToArray());
        var type = MachineTypes.First(m => m.Label == typeLabel).Type;
        var distributed = type != DistributedType.No;

        int machines = 1, rank = 0;
        string? mainIp = null;
        int? mainPort = null;
        bool? sameNetwork = null;
        var backend = RendezvousBackend.Static;
        var debug = false;
        if (distributed)
        {
            machines = AskInt("How many different machines will you use (use more than 1 for multi-node training)?", 1,
                n => n >= 1 ? null : "Enter 1 or more.");
            if (machines > 1)
            {
                rank = int.Parse(Choose("What is the rank of this machine?", Enumerable.Range(0, machines).Select(r => r.ToString()).ToArray()));
                mainIp = AskText("What is the IP address of the machine that will host the main process?", null,
                    ip => Uri.CheckHostName(ip) != UriHostNameType.Unknown || IPAddress.TryParse(ip, out _) ? null : "Enter an IP address or host name.");
                mainPort = AskInt("What is the port you will use to communicate with the main process?", 29500,
                    p => p is >= 0 and <= 65535 ? null : "Enter a port from 0 to 65535 (0 picks a free one).");
                sameNetwork = Confirm("Are all the machines on the same local network? Answer `no` if nodes are on the cloud and/or on different network hosts", true);
                if (sameNetwork == false)
                    backend = WireNames.TryParse<RendezvousBackend>(
                        Choose("What rendezvous backend will you use?", WireNames.Names<RendezvousBackend>().ToArray()), out var chosen) ? chosen : backend;
            }
            debug = Confirm("Should distributed operations be checked while running for errors? This can avoid timeout issues but will be slower.", false);
        }

        var useCpu = type switch
        {
            DistributedType.No => Confirm("Do you want to run your training on CPU only (even if a GPU is available)?", false),
            DistributedType.MultiCpu => true,
            _ => false,
        };

        string? hostfile = null;
        if (type == DistributedType.MultiCpu && Confirm("Do you want accelerate to launch mpirun?", false))
            hostfile = AskText("Please enter the path to the hostfile to use with mpirun", "~/hostfile", h => h.Length > 0 ? null : "Enter a path.");

        var processes = 1;
        if (distributed)
        {
            var unit = useCpu ? "processes" : "GPU(s)";
            processes = AskInt($"How many {unit} should be used for distributed training?", 1, n =>
                n < 1 ? "Enter 1 or more."
                : type == DistributedType.MultiGpu && machines == 1 && n == 1
                    ? "MULTI_GPU on one machine needs 2 or more GPUs; choose \"No distributed training\" to train on one."
                : n % machines != 0 ? $"This is the total over all {machines} machines; enter a multiple of {machines}."
                : null);
        }

        string? gpuIds = null;
        var cpuAffinity = false;
        if (!useCpu)
        {
            gpuIds = AskText("What GPU(s) (by id) should be used for training on this machine as a comma-separated list?", "all", ValidateGpuIds);
            cpuAffinity = Confirm("Would you like to enable numa efficiency? (Currently only supported on NVIDIA hardware).", false);
        }

        var precision = WireNames.TryParse<MixedPrecision>(
            Choose("Do you wish to use mixed precision?", WireNames.Names<MixedPrecision>().ToArray()), out var p) ? p : MixedPrecision.No;

        return new ClusterConfig
        {
            ComputeEnvironment = ComputeEnvironment.LocalMachine,
            DistributedType = type,
            MixedPrecision = precision,
            UseCpu = useCpu,
            Debug = debug,
            NumProcesses = processes,
            MachineRank = rank,
            NumMachines = machines,
            GpuIds = gpuIds,
            MainProcessIp = mainIp,
            MainProcessPort = mainPort,
            RdzvBackend = backend,
            SameNetwork = sameNetwork,
            EnableCpuAffinity = cpuAffinity,
            NestedConfigs = hostfile is null
                ? new Dictionary<string, object?>()
                : new Dictionary<string, object?> { ["mpirun_config"] = new Dictionary<string, object?> { ["mpirun_hostfile"] = hostfile } },
        }.WithDefaults();
    }

    private static string? ValidateGpuIds(string ids) =>
        ids.Trim() == "all" || ids.Split(',', StringSplitOptions.TrimEntries).All(id => id.Length > 0 && id.All(char.IsAsciiDigit))
            ? null : "Enter all, or GPU ids separated by commas such as 0,1.";

    private string Choose(string question, string[] choices)
    {
        var answer = console.Prompt(new SelectionPrompt<string>()
            .Title(Markup.Escape(question))
            .PageSize(Math.Max(3, choices.Length))
            .AddChoices(choices)
            .UseConverter(Markup.Escape));
        // The menu disappears once answered; keep the answer in the transcript as HF's menus do.
        console.WriteLine($"{question} {answer}");
        return answer;
    }

    private bool Confirm(string question, bool defaultValue) =>
        console.Prompt(new ConfirmationPrompt(Markup.Escape(question)) { DefaultValue = defaultValue });

    private int AskInt(string question, int defaultValue, Func<int, string?> problem) =>
        console.Prompt(new TextPrompt<int>(Markup.Escape(question))
            .DefaultValue(defaultValue)
            .ValidationErrorMessage("[red]Enter a whole number.[/]")
            .Validate(n => problem(n) is { } message ? ValidationResult.Error(Markup.Escape(message)) : ValidationResult.Success()));

    private string AskText(string question, string? defaultValue, Func<string, string?> problem)
    {
        var prompt = new TextPrompt<string>(Markup.Escape(question))
            .Validate(text => problem(text.Trim()) is { } message ? ValidationResult.Error(Markup.Escape(message)) : ValidationResult.Success());
        if (defaultValue is not null) prompt.DefaultValue(defaultValue);
        return console.Prompt(prompt).Trim();
    }
}
