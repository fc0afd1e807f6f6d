using Spectre.Console;

namespace Accelerate.Cli.Config;

/// <summary>
/// What the config and env commands talk to: prompts, plain output, errors, the environment and the GPUs.
/// Tests pass their own; <see cref="FromSystem"/> is the real one.
/// </summary>
/// <param name="Prompts">Where questions are asked (arrow-key menus need an interactive console).</param>
/// <param name="Out">Plain output, never wrapped (it gets pasted into bug reports).</param>
/// <param name="Error">Error messages.</param>
/// <param name="Environment">Looks up an environment variable.</param>
/// <param name="HasTerminal">Whether stdin and stdout are a terminal, which the questionnaire needs.</param>
/// <param name="Cuda">Detects CUDA and the GPUs (only called when needed: it may run nvidia-smi).</param>
internal sealed record CommandContext(
    IAnsiConsole Prompts, TextWriter Out, TextWriter Error, Func<string, string?> Environment, bool HasTerminal, Func<Env.CudaStatus> Cuda)
{
    public static CommandContext FromSystem() => new(
        AnsiConsole.Console, Console.Out, Console.Error, System.Environment.GetEnvironmentVariable,
        !Console.IsInputRedirected && !Console.IsOutputRedirected, () => Env.CudaProbe.Detect(Env.CudaProbeSources.System));
}
