namespace Accelerate.Cli.Env;

/// <summary><c>accelerate env</c>: what to paste into a bug report.</summary>
internal static class EnvCommand
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("accelerate env: not available in this build.");
        return 2;
    }
}
