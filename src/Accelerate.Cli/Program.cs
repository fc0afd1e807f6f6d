using Accelerate.Cli.Config;
using Accelerate.Cli.Env;
using Accelerate.Cli.Launch;

namespace Accelerate.Cli;

/// <summary>Entry point of the <c>accelerate</c> command: dispatches to its subcommands.</summary>
public static class Program
{
    /// <summary>Runs <c>accelerate &lt;command&gt; [args]</c> and returns the exit code.</summary>
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("""
                usage: accelerate <command> [<args>]

                commands:
                  launch    start a program on N processes or N machines
                  config    create or update the configuration file
                  env       print what to paste into a bug report
                """);
            return args.Length == 0 ? 1 : 0;
        }

        var rest = args[1..];
        return args[0] switch
        {
            "launch" => LaunchCommand.Run(rest),
            "config" => ConfigCommand.Run(rest),
            "env" => EnvCommand.Run(rest),
            _ => Unknown(args[0]),
        };
    }

    private static int Unknown(string command)
    {
        Console.Error.WriteLine($"accelerate: unknown command '{command}'. Commands: launch, config, env (see 'accelerate --help').");
        return 2;
    }
}
