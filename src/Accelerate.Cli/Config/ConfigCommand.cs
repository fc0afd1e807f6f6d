namespace Accelerate.Cli.Config;

/// <summary><c>accelerate config</c>, <c>config default</c> and <c>config update</c>.</summary>
internal static class ConfigCommand
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("accelerate config: not available in this build.");
        return 2;
    }
}
