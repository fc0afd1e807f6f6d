using Accelerate.Cli.Config;
using Accelerate.Cli.Env;
using Spectre.Console.Testing;

namespace Accelerate.Cli.Tests.Config;

/// <summary>
/// One run of a config/env command against a test console (keys pushed in advance), captured output, a private
/// HF_HOME and a chosen CUDA status. Deletes its folder on dispose.
/// </summary>
internal sealed class CliSession : IDisposable
{
    public CliSession(int gpus = 0, bool hasTerminal = true)
    {
        Directory.CreateDirectory(Home);
        Console = new TestConsole().Interactive().Width(200);
        Cuda = gpus == 0
            ? new CudaStatus(false, null, [], "the CUDA driver library (libcuda.so.1) is not installed or does not load")
            : new CudaStatus(true, "550.54.15", Enumerable.Range(0, gpus).Select(i => $"{i}: NVIDIA A100-SXM4-80GB (81920 MiB)").ToList(), $"{gpus} GPU(s) found");
        HasTerminal = hasTerminal;
    }

    public string Home { get; } = Path.Combine(Path.GetTempPath(), "accelerate-cli-tests-" + Guid.NewGuid().ToString("N"));

    public string DefaultFile => Path.Combine(Home, "accelerate", "default_config.yaml");

    public TestConsole Console { get; }

    public StringWriter Out { get; } = new();

    public StringWriter Error { get; } = new();

    public CudaStatus Cuda { get; set; }

    public bool HasTerminal { get; }

    public int CudaProbes { get; private set; }

    public Dictionary<string, string> Environment { get; } = new();

    public CommandContext Context => new(Console, Out, Error,
        name => name == "HF_HOME" ? Home : Environment.GetValueOrDefault(name), HasTerminal, () => { CudaProbes++; return Cuda; });

    public int Config(params string[] args) => ConfigCommand.Run(args, Context);

    public int Env(params string[] args) => EnvCommand.Run(args, Context);

    public void Keys(params ConsoleKey[] keys)
    {
        foreach (var key in keys) Console.Input.PushKey(key);
    }

    public void Type(string text) => Console.Input.PushTextWithEnter(text);

    public void Dispose()
    {
        Console.Dispose();
        try { Directory.Delete(Home, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
